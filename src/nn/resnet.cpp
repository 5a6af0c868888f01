#include "nn/resnet.h"

namespace ma::nn {

at::Tensor group_norm_frames(const GroupNorm& norm, const at::Tensor& x, int64_t frames) {
  if (frames <= 1) return norm.forward(x);
  const int64_t bf = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // [B*F, C, H, W] -> [B, C, F, H, W] so the statistics cover (C/G, F, H, W).
  at::Tensor v = x.reshape({bf / frames, frames, c, h, w}).permute({0, 2, 1, 3, 4});
  at::Tensor y = norm.forward(v);
  return y.permute({0, 2, 1, 3, 4}).reshape({bf, c, h, w});
}

ResnetBlock::ResnetBlock(int64_t in, int64_t out, int64_t temb_channels, int64_t groups, double eps) {
  norm1 = register_module("norm1", std::make_unique<GroupNorm>(groups, in, eps));
  conv1 = register_module("conv1", std::make_unique<Conv2d>(in, out, 3, 1, 1));
  if (temb_channels > 0) time_emb_proj = register_module("time_emb_proj", std::make_unique<Linear>(temb_channels, out));
  norm2 = register_module("norm2", std::make_unique<GroupNorm>(groups, out, eps));
  conv2 = register_module("conv2", std::make_unique<Conv2d>(out, out, 3, 1, 1));
  if (in != out) conv_shortcut = register_module("conv_shortcut", std::make_unique<Conv2d>(in, out, 1, 1, 0));
}

at::Tensor ResnetBlock::forward(const at::Tensor& x, const at::Tensor& temb, int64_t frames) const {
  at::Tensor h = at::silu(group_norm_frames(*norm1, x, frames));
  h = conv1->forward(h);
  if (time_emb_proj && temb.defined()) {
    at::Tensor t = time_emb_proj->forward(at::silu(temb));  // [B, C]
    if (t.size(0) != h.size(0)) t = t.repeat_interleave(h.size(0) / t.size(0), 0);
    h = h + t.unsqueeze(-1).unsqueeze(-1);
  }
  h = at::silu(group_norm_frames(*norm2, h, frames));
  h = conv2->forward(h);  // dropout is identity at inference
  at::Tensor skip = conv_shortcut ? conv_shortcut->forward(x) : x;
  return skip + h;  // output_scale_factor is 1 in every model we load
}

Downsample::Downsample(int64_t channels, int64_t out, int64_t pad) : padding(pad) {
  conv = register_module("conv", std::make_unique<Conv2d>(channels, out, 3, 2, pad));
}

at::Tensor Downsample::forward(const at::Tensor& x) const {
  if (padding == 0) return conv->forward(at::constant_pad_nd(x, {0, 1, 0, 1}, 0));
  return conv->forward(x);
}

Upsample::Upsample(int64_t channels, int64_t out) {
  conv = register_module("conv", std::make_unique<Conv2d>(channels, out, 3, 1, 1));
}

at::Tensor Upsample::forward(const at::Tensor& x, c10::optional<at::IntArrayRef> size) const {
  at::Tensor up = size ? at::upsample_nearest2d(x, *size) : at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
  return conv->forward(up);
}

}  // namespace ma::nn
