#include "nn/layers.h"

#include <ATen/core/grad_mode.h>  // at::GradMode (not via ATen.h on 2.x)

#include <algorithm>

#include "nn/bf16_compute.h"

namespace ma::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  register_parameter("weight", &weight, {out, in});
  if (has_bias) register_parameter("bias", &bias, {out});
}

at::Tensor Linear::forward(const at::Tensor& x) const {
  if (compute_in_fp32(x)) return at::linear(fp32(x), fp32(weight), fp32(bias)).to(x.scalar_type());
  return at::linear(x, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt);
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, bool has_bias)
    : in_channels(in), out_channels(out), kernel(k), stride(s), padding(p) {
  register_parameter("weight", &weight, {out, in, k, k});
  if (has_bias) register_parameter("bias", &bias, {out});
}

at::Tensor Conv2d::forward(const at::Tensor& x) const {
  if (compute_in_fp32(x))
    return at::conv2d(fp32(x), fp32(weight), fp32(bias), {stride, stride}, {padding, padding}).to(x.scalar_type());
  return at::conv2d(x, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt, {stride, stride},
                    {padding, padding});
}

GroupNorm::GroupNorm(int64_t g, int64_t c, double e) : groups(g), channels(c), eps(e) {
  register_parameter("weight", &weight, {c});
  register_parameter("bias", &bias, {c});
}

namespace {

// libtorch's CPU LayerNorm and GroupNorm kernels for bf16 and fp16 run 3-10x
// slower than their fp32 kernels (libtorch 1.13 on a Zen 4, 2 threads: a
// [32768, 320] LayerNorm 50 ms against 20 in fp32; a [32, 640, 16, 16]
// GroupNorm 27 ms against 2), and converting the whole tensor to fp32 first
// costs as much again in memory traffic. Normalising blocks of about a million
// elements (4 MB in fp32, held in cache while the fp32 kernel reads it and the
// result is rounded back) measured 5-9x faster than the reduced-precision
// kernels, and is exactly the fp32 result rounded once. Only for inference
// (training keeps libtorch's kernels, whose backward it needs).
constexpr int64_t kNormBlockElements = int64_t{1} << 20;

bool normalise_in_fp32_blocks(const at::Tensor& x, const at::Tensor& weight) {
  if (!reduced_precision_cpu(x) || x.numel() == 0) return false;
  return !(at::GradMode::is_enabled() && (x.requires_grad() || (weight.defined() && weight.requires_grad())));
}

}  // namespace

at::Tensor GroupNorm::forward(const at::Tensor& x) const {
  // (Shapes libtorch would refuse go to it, for its error message.)
  if (!normalise_in_fp32_blocks(x, weight) || x.dim() < 2 || x.size(1) % groups != 0)
    return at::group_norm(x, groups, weight, bias, eps);
  const int64_t n = x.size(0);
  const at::Tensor w = fp32(weight), b = fp32(bias);
  // The output keeps x's strides, so a permuted view in (the 3D ResNet's
  // [B, C, F, H, W]) permutes back without a copy.
  at::Tensor out = at::empty_like(x);
  if (x.dim() == 4 && !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    // oneDNN's bf16 convolutions hand back channels-last tensors (the VAE
    // decoder's at 512x512): a run of channels is scattered over all of memory
    // there, so a block is a whole sample, converted in its own layout (a
    // gather per group measured 4x slower; libtorch's own channels-last bf16
    // kernel is fast but was off by 70 on a [2, 128, 512, 512] test tensor).
    for (int64_t i = 0; i < n; ++i)
      out.slice(0, i, i + 1).copy_(at::group_norm(x.slice(0, i, i + 1).to(at::kFloat), groups, w, b, eps));
    return out;
  }
  // Samples and groups are normalised independently: a block is one sample's
  // run of whole groups.
  const int64_t per_group = x.numel() / (n * groups), channels_per_group = x.size(1) / groups;
  const int64_t step = std::clamp<int64_t>(kNormBlockElements / std::max<int64_t>(per_group, 1), 1, groups);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t g = 0; g < groups; g += step) {
      const int64_t c0 = g * channels_per_group, c1 = std::min(groups, g + step) * channels_per_group;
      const at::Tensor part = x.slice(0, i, i + 1).slice(1, c0, c1).to(at::kFloat);
      out.slice(0, i, i + 1).slice(1, c0, c1).copy_(at::group_norm(
          part, (c1 - c0) / channels_per_group, w.defined() ? w.slice(0, c0, c1) : w,
          b.defined() ? b.slice(0, c0, c1) : b, eps));
    }
  }
  return out;
}

LayerNorm::LayerNorm(int64_t d, double e) : dim(d), eps(e) {
  register_parameter("weight", &weight, {d});
  register_parameter("bias", &bias, {d});
}

at::Tensor LayerNorm::forward(const at::Tensor& x) const {
  if (!normalise_in_fp32_blocks(x, weight) || x.dim() < 1 || x.size(-1) != dim)
    return at::layer_norm(x, {dim}, weight, bias, eps);
  // Rows are normalised independently: a block is a run of whole rows.
  const at::Tensor rows = x.reshape({-1, dim});
  const int64_t step = std::max<int64_t>(1, kNormBlockElements / dim);
  const at::Tensor w = fp32(weight), b = fp32(bias);
  at::Tensor out = at::empty(rows.sizes(), rows.options());
  for (int64_t r = 0; r < rows.size(0); r += step) {
    const int64_t e = std::min(rows.size(0), r + step);
    out.slice(0, r, e).copy_(at::layer_norm(rows.slice(0, r, e).to(at::kFloat), {dim}, w, b, eps));
  }
  return out.view(x.sizes());
}

Embedding::Embedding(int64_t num, int64_t dim) { register_parameter("weight", &weight, {num, dim}); }

at::Tensor Embedding::forward(const at::Tensor& ids) const { return at::embedding(weight, ids); }

}  // namespace ma::nn
