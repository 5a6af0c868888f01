#include "models/densepose/layers.h"

namespace ma::densepose {

FrozenBatchNorm2d::FrozenBatchNorm2d(int64_t c, double e) : eps(e) {
  register_parameter("weight", &weight, {c});
  register_parameter("bias", &bias, {c});
  register_parameter("running_mean", &running_mean, {c});
  register_parameter("running_var", &running_var, {c});
}

at::Tensor FrozenBatchNorm2d::forward(const at::Tensor& x) const {
  at::Tensor scale = weight * (running_var + eps).rsqrt();
  at::Tensor shift = bias - running_mean * scale;
  return x * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
}

Conv::Conv(int64_t in, int64_t out, int64_t k, Options o) : opt(o) {
  register_parameter("weight", &weight, {out, in, k, k});
  if (o.bias) register_parameter("bias", &bias, {out});
  if (o.norm == Norm::FrozenBN) frozen_bn = register_module("norm", std::make_unique<FrozenBatchNorm2d>(out));
  if (o.norm == Norm::GN) group_norm = register_module("norm", std::make_unique<nn::GroupNorm>(32, out, 1e-5));
}

at::Tensor Conv::forward(const at::Tensor& x) const {
  at::Tensor y = at::conv2d(x, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt,
                            {opt.stride, opt.stride}, {opt.padding, opt.padding}, {opt.dilation, opt.dilation});
  if (frozen_bn) y = frozen_bn->forward(y);
  if (group_norm) y = group_norm->forward(y);
  return y;
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p) : stride(s), padding(p) {
  register_parameter("weight", &weight, {in, out, k, k});
  register_parameter("bias", &bias, {out});
}

at::Tensor ConvTranspose2d::forward(const at::Tensor& x) const {
  return at::conv_transpose2d(x, weight, bias, {stride, stride}, {padding, padding});
}

at::Tensor upsample2x(const at::Tensor& x) {
  return at::upsample_bilinear2d(x, {x.size(2) * 2, x.size(3) * 2}, /*align_corners=*/false, 2.0, 2.0);
}

}  // namespace ma::densepose
