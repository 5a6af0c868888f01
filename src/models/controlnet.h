// The DensePose ControlNet (diffusers ControlNetModel): a copy of the UNet's
// encoder half that also sees the conditioning image through a small conv
// stack, and emits one zero-conv residual per UNet skip connection plus one
// for the mid block. MagicAnimate runs it per frame on the conditional text
// embedding and reuses the residuals for both guidance halves.
#pragma once
#include "models/unet.h"

namespace ma {

class ControlNetConditioningEmbedding : public nn::Module {
 public:
  ControlNetConditioningEmbedding(int64_t in_channels, const std::vector<int64_t>& channels, int64_t out_channels);
  at::Tensor forward(const at::Tensor& cond) const;
  nn::Conv2d* conv_in;
  nn::ModuleList<nn::Conv2d>* blocks;
  nn::Conv2d* conv_out;
};

class ControlNetModel : public nn::Module {
 public:
  explicit ControlNetModel(const UNetConfig& config);

  // sample: [N, C, h, w] latents; text: [N or 1, M, D]; cond: [N, 3, H, W] in
  // [0, 1]; timesteps: [N] (one per sample) or a scalar / [1] for all.
  // Residuals are scaled by `scale`. shallow_only: conv_in's and the first
  // down block's layers' residuals only, no mid (what a deep-feature reuse
  // pass of the UNet reads, models/deep_cache.h); the same values as the
  // first ones of a full call.
  ControlResiduals forward(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& text,
                           const at::Tensor& cond, double scale = 1.0, bool shallow_only = false) const;
  ControlResiduals forward(const at::Tensor& sample, double timestep, const at::Tensor& text, const at::Tensor& cond,
                           double scale = 1.0, bool shallow_only = false) const;

  const UNetConfig& config() const { return config_; }

  nn::Conv2d* conv_in;
  nn::TimestepEmbedding* time_embedding;
  ControlNetConditioningEmbedding* controlnet_cond_embedding;
  nn::ModuleList<DownBlock>* down_blocks;
  nn::ModuleList<nn::Conv2d>* controlnet_down_blocks;
  MidBlock* mid_block;
  nn::Conv2d* controlnet_mid_block;

  // Training (--gradient-checkpointing): each block's activations are
  // recomputed in the backward pass instead of kept (models/block_checkpoint.h).
  bool gradient_checkpointing = false;

 private:
  UNetConfig config_;
};

}  // namespace ma
