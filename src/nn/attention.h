// Scaled dot-product attention and the diffusers `Attention` module
// (to_q / to_k / to_v / to_out.0), shared by the UNets, the ControlNet, the
// motion modules and the VAE.
#pragma once
#include "nn/layers.h"

namespace ma::nn {

// q: [B, N, H*D], k/v: [B, M, H*D] -> [B, N, H*D]; softmax(q k^T / sqrt(D)) v per head.
// libtorch >= 2.1: its fused CPU kernel (float, bfloat16); otherwise
// attention_chunked below: bmm then scale (never baddbmm with beta=0: libtorch
// 1.13 CPU returned sporadic NaN there), memory bounded by chunking queries.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        int64_t heads);

// Largest score block (queries x keys, in bytes) the chunked attention
// materialises at once.
constexpr int64_t kAttentionScoreBudgetBytes = int64_t{64} << 20;

// The chunked path: the same math as attention_reference, but scores for at
// most max_score_bytes at a time (whole batch*head slices when a slice fits,
// else query chunks of one batch*head); each row's softmax stays exact.
at::Tensor attention_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                             int64_t max_score_bytes = kAttentionScoreBudgetBytes);

// Reference implementation without chunking (for tests).
at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads);

class Attention : public Module {
 public:
  // query_dim -> heads*dim_head; cross_dim = key/value input width (query_dim for self-attention).
  Attention(int64_t query_dim, int64_t cross_dim, int64_t heads, int64_t dim_head, bool qkv_bias = false,
            bool out_bias = true);
  // x: [B, N, C]; context: [B', M, Cc] or undefined for self-attention. B'
  // may divide B: each context row then serves B/B' consecutive rows (the
  // text embedding shared by all frames of one video), projected only once.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context = {}) const;
  // Queries from x over already projected keys/values [B', M, heads*dim_head]
  // (B' dividing B as above); to_out applied.
  at::Tensor attend(const at::Tensor& x, const at::Tensor& k, const at::Tensor& v) const;
  Linear *to_q, *to_k, *to_v;
  ModuleList<Linear>* to_out;
  int64_t heads, dim_head;
};

// diffusers FeedForward with GEGLU: net.0.proj (dim -> 2*inner), gelu gate, net.2 (inner -> dim).
class GEGLU : public Module {
 public:
  GEGLU(int64_t dim, int64_t inner);
  at::Tensor forward(const at::Tensor& x) const;
  Linear* proj;
};

// Rows (tokens of all images) are fed through in chunks whose GEGLU
// intermediates (2*inner projection, gelu gate, product) stay within
// `budget_bytes`: at 512x512 the first block of a 32-image window has 131072
// tokens, and one pass over all of them would hold ~2.7 GB of intermediates.
// Rows are independent, so the result does not depend on the chunking
// (diffusers' "feed-forward chunking").
constexpr int64_t kFeedForwardBudgetBytes = int64_t{256} << 20;

class FeedForward : public Module {
 public:
  explicit FeedForward(int64_t dim, int64_t mult = 4);
  at::Tensor forward(const at::Tensor& x, int64_t budget_bytes = kFeedForwardBudgetBytes) const;
  GEGLU* geglu;
  Linear* out;
};

}  // namespace ma::nn
