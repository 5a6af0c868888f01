#include "nn/transformer.h"

#include "util/error.h"

namespace ma::nn {

BasicTransformerBlock::BasicTransformerBlock(int64_t dim, int64_t heads, int64_t dim_head, int64_t cross_dim,
                                             bool bank_only) {
  norm1 = register_module("norm1", std::make_unique<LayerNorm>(dim));
  if (bank_only) return;
  attn1 = register_module("attn1", std::make_unique<Attention>(dim, dim, heads, dim_head));
  norm2 = register_module("norm2", std::make_unique<LayerNorm>(dim));
  attn2 = register_module("attn2", std::make_unique<Attention>(dim, cross_dim, heads, dim_head));
  norm3 = register_module("norm3", std::make_unique<LayerNorm>(dim));
  ff = register_module("ff", std::make_unique<FeedForward>(dim));
}

at::Tensor BasicTransformerBlock::self_attention(const at::Tensor& normed, const TransformerContext& ctx) const {
  ReferenceBank* bank = ctx.reference;
  if (!bank || bank->mode == ReferenceBank::Mode::kOff) return attn1->forward(normed);

  if (bank->mode == ReferenceBank::Mode::kWrite) {
    at::Tensor kept = bank->fp16_handoff ? normed.to(at::kHalf).to(normed.scalar_type()) : normed.clone();
    bank->entries.push_back({kept, {}, {}});
    return attn1 ? attn1->forward(normed) : at::Tensor();
  }

  if (bank->cursor >= bank->entries.size())
    throw Error("reference attention: the appearance encoder banked fewer blocks than the UNet reads");
  ReferenceBank::Entry& entry = bank->entries[bank->cursor++];
  if (!entry.key.defined()) {  // once per denoising step, shared by every window
    entry.key = attn1->to_k->forward(entry.hidden);
    entry.value = attn1->to_v->forward(entry.hidden);
  }
  // Every row of a reading pass attends to itself and the reference (the
  // UNet runs the unconditional half of guidance without a bank).
  const int64_t rows = normed.size(0);
  at::Tensor k = at::cat({attn1->to_k->forward(normed), entry.key.expand({rows, -1, -1})}, 1);
  at::Tensor v = at::cat({attn1->to_v->forward(normed), entry.value.expand({rows, -1, -1})}, 1);
  return attn1->attend(normed, k, v);
}

at::Tensor BasicTransformerBlock::forward(const at::Tensor& x, const TransformerContext& ctx) const {
  at::Tensor attn = self_attention(norm1->forward(x), ctx);
  if (!attn1) return {};
  at::Tensor h = attn + x;
  h = attn2->forward(norm2->forward(h), ctx.text) + h;
  return ff->forward(norm3->forward(h)) + h;
}

SpatialTransformer::SpatialTransformer(int64_t channels, int64_t heads, int64_t cross_dim, int64_t groups,
                                       int64_t layers, bool linear, bool bank_only)
    : use_linear_projection(linear) {
  norm = register_module("norm", std::make_unique<GroupNorm>(groups, channels, 1e-6));
  if (linear)
    proj_in = register_module("proj_in", std::make_unique<Linear>(channels, channels));
  else
    proj_in = register_module("proj_in", std::make_unique<Conv2d>(channels, channels, 1));
  transformer_blocks = register_module("transformer_blocks", std::make_unique<ModuleList<BasicTransformerBlock>>());
  for (int64_t i = 0; i < layers; ++i)
    transformer_blocks->push_back(
        std::make_unique<BasicTransformerBlock>(channels, heads, channels / heads, cross_dim, bank_only));
  if (bank_only) return;
  if (linear)
    proj_out = register_module("proj_out", std::make_unique<Linear>(channels, channels));
  else
    proj_out = register_module("proj_out", std::make_unique<Conv2d>(channels, channels, 1));
}

at::Tensor SpatialTransformer::forward(const at::Tensor& x, const TransformerContext& ctx) const {
  const int64_t b = x.size(0), c = x.size(1), hgt = x.size(2), wid = x.size(3);
  at::Tensor h = norm->forward(x);
  if (!use_linear_projection) h = static_cast<Conv2d*>(proj_in)->forward(h);
  h = h.permute({0, 2, 3, 1}).reshape({b, hgt * wid, c});
  if (use_linear_projection) h = static_cast<Linear*>(proj_in)->forward(h);
  for (const BasicTransformerBlock* block : *transformer_blocks) {
    h = block->forward(h, ctx);
    if (!h.defined()) return {};  // bank-only block: nothing follows
  }
  if (use_linear_projection) h = static_cast<Linear*>(proj_out)->forward(h);
  h = h.reshape({b, hgt, wid, c}).permute({0, 3, 1, 2});
  if (!use_linear_projection) h = static_cast<Conv2d*>(proj_out)->forward(h.contiguous());
  return h + x;
}

}  // namespace ma::nn
