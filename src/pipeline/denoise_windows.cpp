#include "pipeline/denoise_windows.h"

#include "pipeline/control_residual_cache.h"
#include "util/error.h"
#include "weights/mapped_pages.h"

namespace ma {

void WindowSums::add(const WindowSums& other) {
  sum_uncond = sum_uncond + other.sum_uncond;
  sum_cond = sum_cond + other.sum_cond;
  count = count + other.count;
}

at::Tensor WindowSums::guided(double guidance) const {
  at::Tensor uncond = sum_uncond / count, cond = sum_cond / count;
  return uncond + guidance * (cond - uncond);
}

std::vector<Window> WindowShare::select(const std::vector<Window>& windows) const {
  if (world < 1 || rank < 0 || rank >= world)
    throw Error("window share: rank " + std::to_string(rank) + " of a world of " + std::to_string(world));
  std::vector<Window> mine;
  for (size_t i = static_cast<size_t>(rank); i < windows.size(); i += static_cast<size_t>(world))
    mine.push_back(windows[i]);
  return mine;
}

void WindowShare::reduce(WindowSums& s) const {
  if (!allreduce_sum) return;
  at::Tensor packed = at::cat({s.sum_uncond.reshape({-1}), s.sum_cond.reshape({-1}), s.count.reshape({-1})});
  allreduce_sum(packed);
  const int64_t n = s.sum_uncond.numel();
  s.sum_uncond = packed.slice(0, 0, n).view(s.sum_uncond.sizes());
  s.sum_cond = packed.slice(0, n, 2 * n).view(s.sum_cond.sizes());
  s.count = packed.slice(0, 2 * n).view(s.count.sizes());
}

WindowSums denoise_windows(const DenoiseInputs& in, const std::vector<Window>& subset,
                           const std::function<void(size_t)>& after_window) {
  const at::Tensor& latents = in.latents;
  const int64_t frames = latents.size(0);
  if (in.deep && in.deep->size() != subset.size())
    throw Error("denoise: " + std::to_string(in.deep->size()) + " deep-feature caches for " +
                std::to_string(subset.size()) + " windows");
  const bool shallow = in.deep && !in.deep->empty() && in.deep->front().mode == DeepFeatureCache::Mode::kReuse;
  // ControlNet residuals on the conditional text, in the original's blocks
  // of `block` frames (the same batches whichever windows ask for them),
  // computed as this subset's windows first need them.
  ControlResidualCache residuals(subset, frames, in.block, [&](int64_t start, int64_t end) {
    ControlResiduals r = in.controlnet->forward(latents.slice(0, start, end), in.timestep, in.text_cond,
                                                in.cond_images.slice(0, start, end), 1.0, shallow);
    if (in.low_memory) (void)release_file_pages(in.controlnet->tensors());
    return r;
  });
  WindowSums sums{at::zeros_like(latents), at::zeros_like(latents), at::zeros({frames, 1, 1, 1}, latents.options())};
  for (size_t wi = 0; wi < subset.size(); ++wi) {
    const Window& win = subset[wi];
    const int64_t n = static_cast<int64_t>(win.size());
    at::Tensor idx = at::tensor(win, at::TensorOptions().dtype(at::kLong)).to(latents.device());
    at::Tensor x = latents.index_select(0, idx);
    ControlResiduals window_res = residuals.for_window(wi);
    at::Tensor pred = in.unet->forward(at::cat({x, x}, 0), in.timestep, in.text, n, &window_res, in.bank,
                                       /*cfg_halves=*/true, in.deep ? &(*in.deep)[wi] : nullptr);
    sums.sum_uncond.index_add_(0, idx, pred.slice(0, 0, n));
    sums.sum_cond.index_add_(0, idx, pred.slice(0, n));
    sums.count.index_add_(0, idx, at::ones({n, 1, 1, 1}, sums.count.options()));
    if (after_window) after_window(wi);
  }
  return sums;
}

}  // namespace ma
