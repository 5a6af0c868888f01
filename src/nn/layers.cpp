#include "nn/layers.h"

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

at::Tensor GroupNorm::forward(const at::Tensor& x) const { return at::group_norm(x, groups, weight, bias, eps); }

LayerNorm::LayerNorm(int64_t d, double e) : dim(d), eps(e) {
  register_parameter("weight", &weight, {d});
  register_parameter("bias", &bias, {d});
}

at::Tensor LayerNorm::forward(const at::Tensor& x) const { return at::layer_norm(x, {dim}, weight, bias, eps); }

Embedding::Embedding(int64_t num, int64_t dim) { register_parameter("weight", &weight, {num, dim}); }

at::Tensor Embedding::forward(const at::Tensor& ids) const { return at::embedding(weight, ids); }

}  // namespace ma::nn
