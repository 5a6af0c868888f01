// AnimateDiff-style motion module ("VanillaTemporalModule") that MagicAnimate
// inserts after every ResNet(+transformer) layer of the UNet's down and up
// blocks: self-attention across the frames of a window at each spatial
// position, with a learned-free sinusoidal position encoding (the `pe` buffer
// stored in temporal_attention.ckpt, max 24 frames).
//
// Keys: temporal_transformer.{norm, proj_in,
//   transformer_blocks.N.{attention_blocks.K.{to_q,to_k,to_v,to_out.0,pos_encoder.pe}, norms.K,
//   ff.net.0.proj, ff.net.2, ff_norm}, proj_out}
#pragma once
#include "nn/attention.h"

namespace ma {

struct MotionModuleConfig {
  int64_t num_attention_heads = 8;
  int64_t num_transformer_block = 1;
  int64_t attention_blocks = 2;  // "Temporal_Self", "Temporal_Self"
  int64_t max_frames = 24;       // temporal_position_encoding_max_len
  int64_t norm_num_groups = 32;
};

class TemporalAttention : public nn::Attention {
 public:
  TemporalAttention(int64_t dim, int64_t heads, int64_t max_frames);
  // x: [B*HW, F, C]
  at::Tensor forward_frames(const at::Tensor& x) const;
  at::Tensor pe;  // [1, max_frames, C]
};

class TemporalTransformerBlock : public nn::Module {
 public:
  TemporalTransformerBlock(int64_t dim, const MotionModuleConfig& cfg);
  at::Tensor forward(const at::Tensor& x) const;  // [B*HW, F, C]
  nn::ModuleList<TemporalAttention>* attention_blocks;
  nn::ModuleList<nn::LayerNorm>* norms;
  nn::FeedForward* ff;
  nn::LayerNorm* ff_norm;
};

class TemporalTransformer : public nn::Module {
 public:
  TemporalTransformer(int64_t channels, const MotionModuleConfig& cfg);
  at::Tensor forward(const at::Tensor& x, int64_t frames) const;  // [B*F, C, H, W]
  nn::GroupNorm* norm;
  nn::Linear* proj_in;
  nn::ModuleList<TemporalTransformerBlock>* transformer_blocks;
  nn::Linear* proj_out;
};

class MotionModule : public nn::Module {
 public:
  MotionModule(int64_t channels, const MotionModuleConfig& cfg);
  at::Tensor forward(const at::Tensor& x, int64_t frames) const { return temporal_transformer->forward(x, frames); }
  TemporalTransformer* temporal_transformer;
};

}  // namespace ma
