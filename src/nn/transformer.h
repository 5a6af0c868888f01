// The spatial transformer of the SD UNet family (diffusers Transformer2DModel,
// MagicAnimate Transformer3DModel: identical per frame) and its
// BasicTransformerBlock: norm1 -> self-attention (attn1), norm2 ->
// cross-attention on the text (attn2), norm3 -> GEGLU feed-forward.
//
// Hidden states are [B*F, C, H, W] (frames folded into the batch). The text
// embedding is [B, 77, D] and serves the F frames of each batch entry.
#pragma once
#include "nn/attention.h"
#include "nn/reference_bank.h"

namespace ma::nn {

struct TransformerContext {
  at::Tensor text;                    // [B, M, D]
  ReferenceBank* reference = nullptr;  // set only for the mid and up blocks
};

class BasicTransformerBlock : public Module {
 public:
  // bank_only: the appearance encoder's last block, whose checkpoint keeps
  // only norm1 (the bank is all that is used of it).
  BasicTransformerBlock(int64_t dim, int64_t heads, int64_t dim_head, int64_t cross_dim, bool bank_only = false);
  // x: [B*F, N, C] -> same; bank-only blocks return an undefined tensor.
  at::Tensor forward(const at::Tensor& x, const TransformerContext& ctx) const;

  LayerNorm* norm1;
  Attention* attn1 = nullptr;
  LayerNorm* norm2 = nullptr;
  Attention* attn2 = nullptr;
  LayerNorm* norm3 = nullptr;
  FeedForward* ff = nullptr;

 private:
  at::Tensor self_attention(const at::Tensor& normed, const TransformerContext& ctx) const;
};

class SpatialTransformer : public Module {
 public:
  SpatialTransformer(int64_t channels, int64_t heads, int64_t cross_dim, int64_t groups, int64_t layers,
                     bool use_linear_projection, bool bank_only = false);
  at::Tensor forward(const at::Tensor& x, const TransformerContext& ctx) const;

  GroupNorm* norm;
  Module* proj_in;  // Conv2d 1x1 or Linear
  ModuleList<BasicTransformerBlock>* transformer_blocks;
  Module* proj_out = nullptr;
  bool use_linear_projection;
};

}  // namespace ma::nn
