// The checks of the engine's settings, worded once for every program.
#include <cmath>
#include <sstream>

#include "diffusion/sampler.h"
#include "pipeline/animation.h"
#include "util/error.h"

namespace ma {
namespace {

std::string number(double v) {
  std::ostringstream text;
  text << v;
  return text.str();
}

}  // namespace

void EngineOptions::validate() const {
  if (threads < 0) throw Error("threads must be 0 (every core) or more, got " + std::to_string(threads));
  if (low_memory && !device.is_cpu())
    throw Error("low-memory mode keeps CPU weights in their files; on " + device.str() +
                " the weights are copies in device memory");
}

void AnimationParams::validate() const {
  auto check_size = [](int64_t v, const char* name) {
    if (v <= 0 || v % 8 != 0)
      throw Error(std::string(name) + " must be a positive multiple of 8 (the VAE downsamples by 8), got " +
                  std::to_string(v));
  };
  check_size(width, "width");
  check_size(height, "height");
  if (steps < 1 || steps > 1000)
    throw Error("steps must be between 1 and 1000 (the scheduler's training steps), got " + std::to_string(steps));
  check_sampler_name(scheduler);
  if (deep_cache < 1 || deep_cache > kMaxDeepCacheInterval)
    throw Error("deep-cache must be between 1 (off) and " + std::to_string(kMaxDeepCacheInterval) +
                " (steps between full UNet passes), got " + std::to_string(deep_cache));
  if (!std::isfinite(guidance) || guidance < 0)
    throw Error("guidance must be a finite number >= 0, got " + number(guidance));
  if (context < 1 || context > kMaxContextFrames)
    throw Error("context must be between 1 and " + std::to_string(kMaxContextFrames) +
                " frames (the motion modules' position limit), got " + std::to_string(context));
  if (overlap < 0 || overlap >= context)
    throw Error("overlap must be at least 0 and less than context (" + std::to_string(context) + "), got " +
                std::to_string(overlap));
  if (length_multiple < 1 || length_multiple > kMaxLengthMultiple)
    throw Error("L (the length the motion is padded to a multiple of) must be between 1 and " +
                std::to_string(kMaxLengthMultiple) + " frames, got " + std::to_string(length_multiple));
}

}  // namespace ma
