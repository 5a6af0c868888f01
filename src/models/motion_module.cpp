#include "models/motion_module.h"

#include "util/error.h"

namespace ma {

namespace {
// Holds the `pe` buffer under the key "pos_encoder.pe".
class PositionalEncoding : public nn::Module {
 public:
  PositionalEncoding(at::Tensor* pe, int64_t max_frames, int64_t dim) {
    register_buffer("pe", pe, {1, max_frames, dim});
  }
};
}  // namespace

TemporalAttention::TemporalAttention(int64_t dim, int64_t heads, int64_t max_frames)
    : nn::Attention(dim, dim, heads, dim / heads) {
  register_module("pos_encoder", std::make_unique<PositionalEncoding>(&pe, max_frames, dim));
}

at::Tensor TemporalAttention::forward_frames(const at::Tensor& x) const {
  const int64_t frames = x.size(1);
  if (frames > pe.size(1))
    throw Error("motion module: a window of " + std::to_string(frames) + " frames exceeds the position encoding's " +
                std::to_string(pe.size(1)) + "-frame limit");
  return forward(x + pe.slice(1, 0, frames));
}

TemporalTransformerBlock::TemporalTransformerBlock(int64_t dim, const MotionModuleConfig& cfg) {
  attention_blocks = register_module("attention_blocks", std::make_unique<nn::ModuleList<TemporalAttention>>());
  norms = register_module("norms", std::make_unique<nn::ModuleList<nn::LayerNorm>>());
  for (int64_t i = 0; i < cfg.attention_blocks; ++i) {
    attention_blocks->push_back(std::make_unique<TemporalAttention>(dim, cfg.num_attention_heads, cfg.max_frames));
    norms->push_back(std::make_unique<nn::LayerNorm>(dim));
  }
  ff = register_module("ff", std::make_unique<nn::FeedForward>(dim));
  ff_norm = register_module("ff_norm", std::make_unique<nn::LayerNorm>(dim));
}

at::Tensor TemporalTransformerBlock::forward(const at::Tensor& x) const {
  at::Tensor h = x;
  for (size_t i = 0; i < attention_blocks->size(); ++i)
    h = (*attention_blocks)[i].forward_frames((*norms)[i].forward(h)) + h;
  return ff->forward(ff_norm->forward(h)) + h;
}

TemporalTransformer::TemporalTransformer(int64_t channels, const MotionModuleConfig& cfg) {
  norm = register_module("norm", std::make_unique<nn::GroupNorm>(cfg.norm_num_groups, channels, 1e-6));
  proj_in = register_module("proj_in", std::make_unique<nn::Linear>(channels, channels));
  transformer_blocks =
      register_module("transformer_blocks", std::make_unique<nn::ModuleList<TemporalTransformerBlock>>());
  for (int64_t i = 0; i < cfg.num_transformer_block; ++i)
    transformer_blocks->push_back(std::make_unique<TemporalTransformerBlock>(channels, cfg));
  proj_out = register_module("proj_out", std::make_unique<nn::Linear>(channels, channels));
}

at::Tensor TemporalTransformer::forward(const at::Tensor& x, int64_t frames) const {
  const int64_t bf = x.size(0), c = x.size(1), hgt = x.size(2), wid = x.size(3), b = bf / frames;
  // Per-frame GroupNorm, then tokens [B, F, HW, C] -> sequences over frames [B*HW, F, C].
  at::Tensor h = proj_in->forward(norm->forward(x).permute({0, 2, 3, 1}).reshape({bf, hgt * wid, c}));
  h = h.reshape({b, frames, hgt * wid, c}).transpose(1, 2).reshape({b * hgt * wid, frames, c});
  for (const TemporalTransformerBlock* block : *transformer_blocks) h = block->forward(h);
  h = proj_out->forward(h);
  h = h.reshape({b, hgt * wid, frames, c}).transpose(1, 2).reshape({bf, hgt, wid, c}).permute({0, 3, 1, 2});
  return h + x;
}

MotionModule::MotionModule(int64_t channels, const MotionModuleConfig& cfg) {
  temporal_transformer = register_module("temporal_transformer", std::make_unique<TemporalTransformer>(channels, cfg));
}

}  // namespace ma
