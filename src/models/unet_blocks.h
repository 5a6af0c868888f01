// Down, mid and up blocks of the SD UNet family, shared by the 3D UNet (with
// motion modules), the appearance encoder and the ControlNet. Names follow the
// checkpoints: resnets.N, attentions.N, motion_modules.N, downsamplers.0,
// upsamplers.0.
#pragma once
#include "models/motion_module.h"
#include "nn/resnet.h"
#include "nn/transformer.h"

namespace ma {

// What every layer of a forward pass needs besides its input.
struct BlockContext {
  at::Tensor temb;             // [B, T]
  int64_t frames = 1;          // F: hidden states are [B*F, C, H, W]
  nn::TransformerContext attn;  // text, reference bank
};

struct BlockSpec {
  int64_t in_channels, out_channels, temb_channels;
  int64_t layers;
  bool attention;
  int64_t heads, cross_dim, groups;
  double eps;
  bool use_linear_projection;
  const MotionModuleConfig* motion = nullptr;  // motion modules after each layer (3D UNet)
};

class DownBlock : public nn::Module {
 public:
  DownBlock(const BlockSpec& spec, bool add_downsample, int64_t downsample_padding);
  // Appends every layer's output (the skip connections) to `skips`.
  at::Tensor forward(const at::Tensor& x, const BlockContext& ctx, std::vector<at::Tensor>& skips) const;
  // The layers without the downsampler (the shallow branch of deep-feature
  // reuse, models/deep_cache.h); appends their outputs to `skips`.
  at::Tensor forward_layers(const at::Tensor& x, const BlockContext& ctx, std::vector<at::Tensor>& skips) const;

  nn::ModuleList<nn::ResnetBlock>* resnets;
  nn::ModuleList<nn::SpatialTransformer>* attentions = nullptr;
  nn::ModuleList<MotionModule>* motion_modules = nullptr;
  nn::ModuleList<nn::Downsample>* downsamplers = nullptr;
};

class MidBlock : public nn::Module {
 public:
  explicit MidBlock(const BlockSpec& spec);
  at::Tensor forward(const at::Tensor& x, const BlockContext& ctx) const;

  nn::ModuleList<nn::ResnetBlock>* resnets;
  nn::ModuleList<nn::SpatialTransformer>* attentions;
};

class UpBlock : public nn::Module {
 public:
  // spec.in_channels: the matching down block's input width; prev_channels:
  // what comes from below. bank_only_last: the appearance encoder's final
  // transformer, of which only the bank is used.
  UpBlock(const BlockSpec& spec, int64_t prev_channels, bool add_upsample, bool bank_only_last = false);
  // Consumes skip connections from the back of `skips`. Returns an undefined
  // tensor once a bank-only transformer was reached.
  at::Tensor forward(const at::Tensor& x, const BlockContext& ctx, std::vector<at::Tensor>& skips) const;

  nn::ModuleList<nn::ResnetBlock>* resnets;
  nn::ModuleList<nn::SpatialTransformer>* attentions = nullptr;
  nn::ModuleList<MotionModule>* motion_modules = nullptr;
  nn::ModuleList<nn::Upsample>* upsamplers = nullptr;
};

}  // namespace ma
