// One denoising step's window loop as a function over any subset of the
// step's windows: it returns per-frame sums of the two guidance halves'
// noise predictions and how many windows covered each frame, so that ranks
// can each run a share of the windows and all-reduce the sums before the
// step divides them (Animator::animate runs every window in one call).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "models/controlnet.h"
#include "models/unet.h"
#include "pipeline/context_windows.h"

namespace ma {

struct WindowSums {
  at::Tensor sum_uncond, sum_cond;  // [F, C, h, w]
  at::Tensor count;                 // [F, 1, 1, 1]: windows that covered each frame
  // Adds another share's sums (an all-reduce of two ranks).
  void add(const WindowSums& other);
  // The guided prediction uncond + guidance * (cond - uncond) of the averages.
  at::Tensor guided(double guidance) const;
};

struct DenoiseInputs {
  const UNetModel* unet = nullptr;            // the kVideo UNet
  const ControlNetModel* controlnet = nullptr;
  at::Tensor latents;       // [F, C, h, w], F a multiple of `block`
  at::Tensor cond_images;   // [F, 3, H, W] in [0, 1]
  at::Tensor text_cond;     // [1, M, D]
  at::Tensor text;          // [2, M, D]: [uncond; cond]
  double timestep = 0;
  int64_t block = 16;       // ControlNet's frame blocks (the context length)
  nn::ReferenceBank* bank = nullptr;  // read by the conditional half
  bool low_memory = false;  // ControlNet gives its file-mapped pages back after each block
  // Deep-feature reuse (opt-in, models/deep_cache.h): one cache per window of
  // the subset, all in the same mode. In kReuse steps ControlNet and the UNet
  // run only their shallow branch. nullptr: the exact computation.
  std::vector<DeepFeatureCache>* deep = nullptr;
};

// One process's share of every step's windows when several processes
// animate together (apps/ wires it to src/dist; the pipeline knows no
// transport): windows[rank::world], as the original splits them across GPUs,
// and `allreduce_sum`, an in-place sum of a tensor over all ranks, with
// which reduce() turns the share's sums into every window's. The output equals one process's bit for bit whenever no
// frame lies in more than two windows (overlap <= context / 2, the default
// 4 of 16): a frame's sum then adds the same two numbers, in either order.
struct WindowShare {
  int rank = 0, world = 1;
  std::function<void(at::Tensor&)> allreduce_sum;  // empty: world 1
  std::vector<Window> select(const std::vector<Window>& windows) const;
  // One collective for the three tensors (packed flat; one dtype).
  void reduce(WindowSums& sums) const;
};

// Runs `subset` (windows of the step, in order), both guidance halves per
// window; after each window calls `after_window(i)` (i: its index in
// subset), which may throw to cancel.
WindowSums denoise_windows(const DenoiseInputs& in, const std::vector<Window>& subset,
                           const std::function<void(size_t)>& after_window = {});

}  // namespace ma
