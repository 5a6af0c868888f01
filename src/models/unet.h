// The SD 1.5 UNet in its three MagicAnimate roles, one module tree whose
// names are the checkpoint keys:
//  - kVideo: the 3D UNet (UNet3DConditionModel): 2D weights applied per frame,
//    GroupNorms of the ResNets and conv_norm_out spanning the window's frames
//    (the original runs nn.GroupNorm on 5-D tensors), motion modules after
//    every down/up layer; reads the reference bank in its mid and up blocks.
//  - kAppearanceEncoder: the 2D copy that writes the reference bank and stops
//    at the last banked layer (its checkpoint lacks everything after it).
//  - kImage: the plain 2D UNet (tests, tools).
#pragma once
#include "models/deep_cache.h"
#include "models/unet_blocks.h"
#include "models/unet_config.h"
#include "nn/timestep.h"

namespace ma {

enum class UNetKind { kImage, kVideo, kAppearanceEncoder };

// ControlNet residuals for F frames ([F, C, h, w] each); shared by every
// classifier-free-guidance half of the batch.
struct ControlResiduals {
  std::vector<at::Tensor> down;
  at::Tensor mid;
};

class UNetModel : public nn::Module {
 public:
  UNetModel(const UNetConfig& config, UNetKind kind, const MotionModuleConfig& motion = {});

  // sample: [B*F, C, h, w]; text: [B, M, D]; frames: F. Returns the noise
  // prediction [B*F, out, h, w] (undefined for the appearance encoder, whose
  // product is the bank). `reference` is written (encoder) or read (video).
  // timesteps: one per video, [B] (a clip's frames share their video's), or
  // a scalar / [1] shared by the whole batch.
  // cfg_halves (video kind, B > 1): the batch is [unconditional; conditional]
  // videos, run one half after the other; only the conditional half reads
  // `reference`. Off by default: a batch of 2 is two videos that both read
  // it (training batches); the pipeline asks for guidance halves explicitly.
  // deep (video kind, opt-in): kStore runs the whole UNet and keeps its deep
  // features; kReuse runs only the shallow branch on them (models/deep_cache.h),
  // and needs only the first down block's ControlNet residuals.
  at::Tensor forward(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& text,
                     int64_t frames = 1, const ControlResiduals* residuals = nullptr,
                     nn::ReferenceBank* reference = nullptr, bool cfg_halves = false,
                     DeepFeatureCache* deep = nullptr) const;
  // One timestep for the whole batch (the sampler's case).
  at::Tensor forward(const at::Tensor& sample, double timestep, const at::Tensor& text, int64_t frames = 1,
                     const ControlResiduals* residuals = nullptr, nn::ReferenceBank* reference = nullptr,
                     bool cfg_halves = false, DeepFeatureCache* deep = nullptr) const;

  // The ControlNet residuals a kReuse pass reads: conv_in's and the first
  // down block's layers' (ControlNetModel::forward's `shallow_only`).
  size_t shallow_skip_count() const;

  const UNetConfig& config() const { return config_; }
  UNetKind kind() const { return kind_; }

  nn::Conv2d* conv_in;
  nn::TimestepEmbedding* time_embedding;
  nn::ModuleList<DownBlock>* down_blocks;
  MidBlock* mid_block;
  nn::ModuleList<UpBlock>* up_blocks;
  nn::GroupNorm* conv_norm_out = nullptr;
  nn::Conv2d* conv_out = nullptr;

  // Training (--gradient-checkpointing): each block's activations are
  // recomputed in the backward pass instead of kept (models/block_checkpoint.h).
  bool gradient_checkpointing = false;

 private:
  // One batch (no guidance split); `slot`: this batch's entry of `deep`.
  at::Tensor forward_batch(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& text,
                           int64_t frames, const ControlResiduals* residuals, nn::ReferenceBank* reference,
                           DeepFeatureCache::Mode deep_mode, DeepFeatureCache::Slot* slot) const;

  UNetConfig config_;
  UNetKind kind_;
  MotionModuleConfig motion_;
};

// Time embedding for a batch of `batch` entries: [batch, T]. `timesteps` is
// a scalar or [1] (one embedding, expanded) or [batch] (one per entry).
at::Tensor unet_time_embedding(const nn::TimestepEmbedding& embedding, const UNetConfig& config,
                               const at::Tensor& timesteps, int64_t batch, const at::TensorOptions& options);
// A timestep as the tensor the models take: float32 [1] on `device`.
at::Tensor timestep_tensor(double timestep, const at::Device& device);

// The common spec of block i's layers.
BlockSpec unet_block_spec(const UNetConfig& c, int64_t in_channels, int64_t out_channels, int64_t layers,
                          bool attention, int64_t heads, const MotionModuleConfig* motion);

}  // namespace ma
