#include "nn/attention.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::AutoGradMode (not via ATen.h on 2.x)
#include <torch/version.h>

#include "nn/bf16_compute.h"

#include <algorithm>
#include <cmath>

namespace ma::nn {
namespace {

// [B, N, H*D] -> [B*H, N, D]
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2) / heads;
  return x.reshape({b, n, heads, d}).permute({0, 2, 1, 3}).reshape({b * heads, n, d});
}

// [B*H, N, D] -> [B, N, H*D]
at::Tensor merge_heads(const at::Tensor& x, int64_t heads) {
  const int64_t bh = x.size(0), n = x.size(1), d = x.size(2);
  return x.reshape({bh / heads, heads, n, d}).permute({0, 2, 1, 3}).reshape({bh / heads, n, heads * d});
}

}  // namespace

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2) / heads));
  at::Tensor qh = split_heads(q, heads), kh = split_heads(k, heads), vh = split_heads(v, heads);
  at::Tensor scores = at::bmm(qh, kh.transpose(1, 2)).mul_(scale);
  at::Tensor probs = scores.softmax(-1);
  return merge_heads(at::bmm(probs, vh), heads);
}

at::Tensor attention_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                             int64_t max_score_bytes) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(2) / heads));
  const at::Tensor qh = split_heads(q, heads), kh = split_heads(k, heads), vh = split_heads(v, heads);
  const int64_t bh = qh.size(0), n = qh.size(1), m = kh.size(1), d = vh.size(2);
  // Score rows (one query of one batch*head, m keys each) that fit the budget.
  const int64_t row_bytes = std::max<int64_t>(1, m * static_cast<int64_t>(qh.element_size()));
  const int64_t rows = std::max<int64_t>(1, max_score_bytes / row_bytes);
  const at::Tensor kt = kh.transpose(1, 2);
  auto attend_block = [&](const at::Tensor& qs, const at::Tensor& kts, const at::Tensor& vs, at::Tensor out) {
    // The score block is [g, c, m]: exact softmax per row, bmm then scale.
    // The softmax overwrites the scores (the same kernel as softmax(-1), so
    // the same bits; it reads each row before writing it): one block of
    // memory instead of two, still in cache when the second bmm reads it.
    at::Tensor scores = at::bmm(qs, kts).mul_(scale);
    at::_softmax_out(scores, scores, -1, false);
    at::bmm_out(out, scores, vs);
  };
  if (bh * n <= rows) {  // everything at once: the reference computation
    at::Tensor out = at::empty({bh, n, d}, qh.options());
    attend_block(qh, kt, vh, out);
    return merge_heads(out, heads);
  }
  at::Tensor out = at::empty({bh, n, d}, qh.options());
  if (n <= rows) {
    // Whole batch*head slices, as many per block as fit.
    const int64_t group = rows / n;
    for (int64_t b0 = 0; b0 < bh; b0 += group) {
      const int64_t b1 = std::min(bh, b0 + group);
      attend_block(qh.slice(0, b0, b1), kt.slice(0, b0, b1), vh.slice(0, b0, b1), out.slice(0, b0, b1));
    }
  } else {
    // One batch*head at a time, its queries in chunks of `rows`.
    for (int64_t b = 0; b < bh; ++b) {
      const at::Tensor qb = qh.slice(0, b, b + 1), kb = kt.slice(0, b, b + 1), vb = vh.slice(0, b, b + 1);
      at::Tensor ob = out.select(0, b);
      for (int64_t n0 = 0; n0 < n; n0 += rows) {
        const int64_t n1 = std::min(n, n0 + rows);
        attend_block(qb.slice(1, n0, n1), kb, vb, ob.slice(0, n0, n1).unsqueeze(0));
      }
    }
  }
  return merge_heads(out, heads);
}

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        int64_t heads) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  // libtorch >= 2.1 has a fused (flash) CPU kernel for float and bfloat16:
  // online softmax over key blocks, no score matrix in memory. It is
  // differentiable, so training takes it too: a checkpointed block's first,
  // gradient-free pass and its recomputation must run the same kernel, or the
  // block's saved output and the activations its gradients come from differ
  // in their last bits (measured: 5e-5 relative gradient error on 2.6).
  const at::ScalarType t = q.scalar_type();
  if (t == at::kFloat || t == at::kBFloat16) {
    const int64_t b = q.size(0), n = q.size(1), m = k.size(1), d = q.size(2) / heads;
    at::Tensor qh = q.reshape({b, n, heads, d}).transpose(1, 2);
    at::Tensor kh = k.reshape({b, m, heads, d}).transpose(1, 2);
    at::Tensor vh = v.reshape({b, m, heads, d}).transpose(1, 2);
    at::Tensor out = at::scaled_dot_product_attention(qh, kh, vh);
    return out.transpose(1, 2).reshape({b, n, heads * d});
  }
#endif
  // Training: the chunked path writes into its output (bmm_out), which
  // autograd refuses; the whole-matrix computation is differentiable.
  if (at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad()))
    return attention_reference(q, k, v, heads);
  if (compute_in_fp32(q))  // bf16 without native kernels: fp32 scores and sums
    return attention_chunked(fp32(q), fp32(k), fp32(v), heads, kAttentionScoreBudgetBytes).to(q.scalar_type());
  return attention_chunked(q, k, v, heads, kAttentionScoreBudgetBytes);
}

Attention::Attention(int64_t query_dim, int64_t cross_dim, int64_t h, int64_t dh, bool qkv_bias, bool out_bias)
    : heads(h), dim_head(dh) {
  const int64_t inner = h * dh;
  to_q = register_module("to_q", std::make_unique<Linear>(query_dim, inner, qkv_bias));
  to_k = register_module("to_k", std::make_unique<Linear>(cross_dim, inner, qkv_bias));
  to_v = register_module("to_v", std::make_unique<Linear>(cross_dim, inner, qkv_bias));
  to_out = register_module("to_out", std::make_unique<ModuleList<Linear>>());
  to_out->push_back(std::make_unique<Linear>(inner, query_dim, out_bias));
}

at::Tensor Attention::forward(const at::Tensor& x, const at::Tensor& context) const {
  const at::Tensor& kv = context.defined() ? context : x;
  return attend(x, to_k->forward(kv), to_v->forward(kv));
}

at::Tensor Attention::attend(const at::Tensor& x, const at::Tensor& k, const at::Tensor& v) const {
  at::Tensor key = k, value = v;
  if (k.size(0) != x.size(0)) {
    const int64_t repeat = x.size(0) / k.size(0);
    key = k.repeat_interleave(repeat, 0);
    value = v.repeat_interleave(repeat, 0);
  }
  at::Tensor out = scaled_dot_product_attention(to_q->forward(x), key, value, heads);
  return (*to_out)[0].forward(out);
}

GEGLU::GEGLU(int64_t dim, int64_t inner) {
  proj = register_module("proj", std::make_unique<Linear>(dim, inner * 2));
}

at::Tensor GEGLU::forward(const at::Tensor& x) const {
  at::Tensor h = proj->forward(x);
  auto parts = h.chunk(2, -1);
  if (at::GradMode::is_enabled() && h.requires_grad()) return parts[0] * at::gelu(parts[1]);
  // Inference: the gate and the product overwrite the projection's own
  // storage (the same element-wise ops, so the same bits) instead of filling
  // two new tensors. The result is a strided view (row stride 2*inner).
  // A bf16/fp16 CPU gate is made contiguous first: libtorch's reduced-precision
  // GELU runs its vectorised kernel only on contiguous data, and on the strided
  // half it measured 4-7x slower than copy + GELU together (libtorch 1.13, Zen 4).
  at::Tensor gate = reduced_precision_cpu(h) ? parts[1].contiguous() : parts[1];
  at::gelu_(gate);
  return parts[0].mul_(gate);
}

// Registers children "net.0" (GEGLU) and "net.2" (Linear); "net.1" is dropout.
namespace {
class FeedForwardNet : public Module {
 public:
  FeedForwardNet(int64_t dim, int64_t inner, GEGLU** g, Linear** o) {
    *g = register_module("0", std::make_unique<GEGLU>(dim, inner));
    *o = register_module("2", std::make_unique<Linear>(inner, dim));
  }
};
}  // namespace

FeedForward::FeedForward(int64_t dim, int64_t mult) {
  register_module("net", std::make_unique<FeedForwardNet>(dim, dim * mult, &geglu, &out));
}

at::Tensor FeedForward::forward(const at::Tensor& x, int64_t budget_bytes) const {
  const int64_t dim = x.size(-1), inner = out->in_features;
  const int64_t row_bytes = 4 * inner * static_cast<int64_t>(x.element_size());
  const int64_t chunk = std::max<int64_t>(1, budget_bytes / row_bytes);
  const at::Tensor rows = x.reshape({-1, dim});
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = out->out_features;
  // Rows as a 2-D matrix: at::linear then takes GEGLU's strided result as it
  // is (one addmm with the bias, as for a contiguous input), not via a copy.
  if (rows.size(0) <= chunk) return out->forward(geglu->forward(rows)).view(shape);
  at::Tensor result = at::empty({rows.size(0), out->out_features}, x.options());
  for (int64_t start = 0; start < rows.size(0); start += chunk) {
    const int64_t end = std::min(start + chunk, rows.size(0));
    result.slice(0, start, end).copy_(out->forward(geglu->forward(rows.slice(0, start, end))));
  }
  return result.view(shape);
}

}  // namespace ma::nn
