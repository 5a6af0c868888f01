#include "synth/world.h"

#include "synth/body_parts.h"

namespace ma::synth {
namespace {

// Small frames get more samples per pixel so that thin limbs and cloth
// patterns still average to the right colour.
int samples_per_side(int size) { return size <= 128 ? 4 : size <= 384 ? 3 : 2; }

}  // namespace

ClipSpec sample_clip(uint64_t seed, int index) {
  Rng clip = Rng(seed).fork(static_cast<uint64_t>(index));
  ClipSpec c;
  Rng body = clip.fork(1), look = clip.fork(2), motion = clip.fork(3), background = clip.fork(4);
  c.body = sample_proportions(body);
  c.look = sample_look(look, c.body.upper_arm + c.body.lower_arm, c.body.upper_leg + c.body.lower_leg);
  c.motion = sample_motion(motion);
  c.background = sample_background(background);
  return c;
}

ClipRenderer::ClipRenderer(const ClipSpec& clip, int size)
    : clip_(clip), size_(size), ss_(samples_per_side(size)),
      background_(render_background(clip.background, size * ss_, size * ss_)) {}

Frame ClipRenderer::render(int index, int frames) const {
  const double progress = frames > 1 ? static_cast<double>(index) / (frames - 1) : 0.0;
  const PoseAt at = motion_at(clip_.motion, index / kFps, progress);
  const Joints joints = forward_kinematics(clip_.body, at.pose);
  const View view{size_, size_};
  double scale = 0;
  const std::vector<Primitive> parts =
      body_primitives(clip_.body, joints, at.place, at.pose.head_yaw, clip_.look, view, &scale);
  // A contact shadow under the feet, fainter and smaller in the air.
  Shadow shadow;
  const double air = at.place.lift / 0.15;
  shadow.x = at.place.cx * size_;
  shadow.y = at.place.ground * size_;
  shadow.rx = (0.16 - 0.05 * air) * scale;
  shadow.ry = 0.025 * scale;
  shadow.strength = clip_.background.has_floor() ? 0.35 * (1 - 0.5 * air) : 0.18 * (1 - 0.5 * air);
  return rasterise(parts, clip_.look, background_, size_, size_, ss_, shadow);
}

}  // namespace ma::synth
