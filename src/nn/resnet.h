// ResNet block and the 2x resamplers shared by the UNets, the ControlNet and
// the VAE (diffusers ResnetBlock2D / MagicAnimate ResnetBlock3D, Downsample2D,
// Upsample2D), with checkpoint names norm1/conv1/time_emb_proj/norm2/conv2/
// conv_shortcut and "conv".
//
// Video tensors are kept as [B*F, C, H, W] (frames folded into the batch) so
// every 2D op runs per frame. The one place where frames interact is the 3D
// ResNet's GroupNorm: the original runs nn.GroupNorm on the 5-D (b, c, f, h, w)
// tensor, so its statistics span all F frames of a window; `frames` > 1
// reproduces that.
#pragma once
#include "nn/layers.h"

namespace ma::nn {

// GroupNorm whose statistics span `frames` consecutive batch entries
// (x: [B*F, C, H, W]); frames == 1 is the ordinary per-image GroupNorm.
at::Tensor group_norm_frames(const GroupNorm& norm, const at::Tensor& x, int64_t frames);

class ResnetBlock : public Module {
 public:
  // temb_channels == 0: no time embedding (the VAE).
  ResnetBlock(int64_t in_channels, int64_t out_channels, int64_t temb_channels, int64_t groups, double eps);
  // x: [B*F, C, H, W]; temb: [B, T] (or undefined); frames: F.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb = {}, int64_t frames = 1) const;

  GroupNorm* norm1;
  Conv2d* conv1;
  Linear* time_emb_proj = nullptr;
  GroupNorm* norm2;
  Conv2d* conv2;
  Conv2d* conv_shortcut = nullptr;
};

// Stride-2 3x3 convolution. padding 1 (UNet) or 0 with the VAE's asymmetric
// (0, 1, 0, 1) zero pad.
class Downsample : public Module {
 public:
  Downsample(int64_t channels, int64_t out_channels, int64_t padding);
  at::Tensor forward(const at::Tensor& x) const;
  Conv2d* conv;
  int64_t padding;
};

// Nearest-neighbour 2x upsampling then a 3x3 convolution. `size` forces the
// output size (the UNet passes the skip connection's size for odd inputs).
class Upsample : public Module {
 public:
  Upsample(int64_t channels, int64_t out_channels);
  at::Tensor forward(const at::Tensor& x, c10::optional<at::IntArrayRef> size = c10::nullopt) const;
  Conv2d* conv;
};

}  // namespace ma::nn
