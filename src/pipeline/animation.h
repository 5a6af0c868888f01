// The MagicAnimate denoising pipeline (engine API shared by the CLI, the
// server and the benchmarks).
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weights/model_paths.h"
#include "models/motion_module.h"

namespace ma {

// Decoder activations the final VAE decode may hold at once: frames are
// decoded in batches that fit (2 frames at 512x512 in fp32, 8 at 256x256),
// batching the convolutions without letting memory grow with the video
// (one frame at a time on CPUs without AVX-512: AutoencoderKL::decode_batch).
constexpr int64_t kVaeDecodeBudgetBytes = int64_t{3} << 30;

// The motion modules' temporal position encoding holds this many positions,
// so no window can be longer (stated once, by the motion module's config).
constexpr int64_t kMaxContextFrames = MotionModuleConfig{}.max_frames;

// Where and how the engine computes. The programs' --device/--dtype/--threads.
struct EngineOptions {
  at::ScalarType dtype = at::kFloat;  // weights and compute
  at::Device device = at::kCPU;
  int threads = 0;                    // 0: every core
  // Networks not running give their weights' pages back between uses (the
  // ones memory-mapped from safetensors files as they are: weights/mapped_pages.h).
  // CPU only; the output is the same.
  bool low_memory = false;

  // Throws ma::Error (one line) for a negative thread count or low_memory off the CPU.
  void validate() const;
};

// The largest L accepted: padding adds up to L - 1 frames of the last pose,
// each costing a full frame of denoising, so anything longer is a mistake.
constexpr int64_t kMaxLengthMultiple = 256;

// The longest deep-feature reuse interval accepted (DeepCache's paper goes to
// N = 20 on 250-step runs; beyond a handful of steps the features are stale).
constexpr int64_t kMaxDeepCacheInterval = 20;

// The sampling settings of one animation, with the original's defaults. Every
// program (animate, serve, bench, config files) fills this one struct.
struct AnimationParams {
  int64_t width = 512, height = 512;  // output size, multiples of 8
  int64_t steps = 25;
  double guidance = 7.5;
  uint64_t seed = 1;
  int64_t context = 16;  // frames per window (<= kMaxContextFrames)
  int64_t overlap = 4;   // frames shared by neighbouring windows
  // The original's L (animation.yaml `L: 16`): the motion video is padded with
  // its last frame to a multiple of this, whatever the window length. A
  // separate parameter from `context` (the pipeline's context_frames).
  int64_t length_multiple = 16;
  std::string prompt, negative_prompt;
  // The sampler (diffusion/sampler.h): "ddim", the original's, or "dpmpp-2m"
  // (DPM-Solver++ 2M, opt-in, meant for fewer steps; docs/performance.md).
  std::string scheduler = "ddim";
  // Deep-feature reuse interval N (models/deep_cache.h, opt-in): 1 (the
  // default) is the exact computation; N >= 2 runs the whole UNet on steps
  // 0, N, 2N... and only its shallow branch on the others.
  int64_t deep_cache = 1;

  // Range checks; ma::Error names the setting (the one wording of these checks).
  void validate() const;
};

struct ProgressEvent {
  std::string phase;  // "encode", "denoise", "decode", "done"
  int64_t step = 0, steps = 0;      // denoising step (1-based once started)
  int64_t window = 0, windows = 0;  // windows done in this step
  double elapsed_s = 0, eta_s = -1;
};
using ProgressCallback = std::function<void(const ProgressEvent&)>;

// Receives named intermediate tensors (parity tests, debugging):
// "text.embeddings0/1", "pipeline.ref_latents", "pipeline.init_latents",
// "step{i}.latents_in/noise_pred_guided/latents_out", "pipeline.video".
using TapCallback = std::function<void(const std::string& name, const at::Tensor& value)>;

struct WindowShare;  // pipeline/denoise_windows.h

class ClipTokenizer;
class ClipTextModel;
class AutoencoderKL;
class UNetModel;
class ControlNetModel;
namespace nn {
class Module;
}

struct WeightBytes {
  int64_t total = 0, file_backed = 0;
  int64_t written_to_map = 0;  // of file_backed: written to $TMPDIR by low-memory mode to be mapped
  std::string not_written;     // why low-memory mode wrote nothing, when it could not
};

// Models already built and holding weights (the benchmark's random-weight
// full-size models); the Animator takes ownership. The UNet must be the
// kVideo kind built with the default MotionModuleConfig.
struct EngineModels {
  std::unique_ptr<ClipTokenizer> tokenizer;
  std::unique_ptr<ClipTextModel> text_encoder;
  std::unique_ptr<AutoencoderKL> vae;
  std::unique_ptr<UNetModel> appearance_encoder;
  std::unique_ptr<ControlNetModel> controlnet;
  std::unique_ptr<UNetModel> unet;

  // The five networks (the tokenizer is none), in the order they first run.
  std::vector<const nn::Module*> networks() const;
  // Their weights: all, and those memory-mapped from files (weights/mapped_pages.h).
  WeightBytes weight_bytes() const;

  EngineModels();
  EngineModels(EngineModels&&) noexcept;
  EngineModels& operator=(EngineModels&&) noexcept;
  ~EngineModels();
};

// What low-memory mode does with these weights, in one line for the log;
// starts with "warning: " when it can do nothing.
std::string describe_low_memory(const WeightBytes& w);

class Animator {
 public:
  // Throws ma::Error when options.dtype cannot run on options.device with
  // this libtorch (fp16 on a libtorch 1.13 CPU).
  Animator(const ModelPaths& paths, const EngineOptions& options = {});
  // Every member of `models` must be set; their weights must already be in
  // options.dtype on options.device.
  Animator(EngineModels models, const EngineOptions& options = {});
  ~Animator();

  // source: uint8 [H, W, 3] at the output size; control: uint8 [F, H, W, 3]
  // at the output size (any F >= 1; padded internally with its last frame to
  // a multiple of params.length_multiple, the original's L, and cut back). Returns float [F, 3, H, W] in [0, 1].
  // Throws ma::Cancelled when *cancel becomes true (checked between windows).
  at::Tensor animate(const at::Tensor& source, const at::Tensor& control, const AnimationParams& params,
                     const ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr,
                     const TapCallback& tap = {});

  const EngineOptions& options() const;

  // The networks' weights: all of them, and those memory-mapped from their
  // files as they are (what low-memory mode can keep out of resident memory).
  WeightBytes weight_bytes() const;

  // From now on each denoising step runs only share.select(windows) here and
  // share.reduce()s the sums with the other processes' (multi-process
  // animation; default: every window, no reduce). Progress then counts this
  // process's windows.
  void set_window_share(const WindowShare& share);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// float [F, 3, H, W] in [0, 1] -> uint8 [F, H, W, 3], the way the original
// writes frames: (x * 255) truncated.
at::Tensor video_to_u8(const at::Tensor& video);

}  // namespace ma
