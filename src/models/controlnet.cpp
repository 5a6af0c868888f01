#include "models/controlnet.h"

#include "models/block_checkpoint.h"

#include "util/error.h"

namespace ma {

ControlNetConditioningEmbedding::ControlNetConditioningEmbedding(int64_t in, const std::vector<int64_t>& ch,
                                                                 int64_t out) {
  if (ch.empty()) throw Error("ControlNet config: conditioning_embedding_out_channels is empty");
  conv_in = register_module("conv_in", std::make_unique<nn::Conv2d>(in, ch[0], 3, 1, 1));
  blocks = register_module("blocks", std::make_unique<nn::ModuleList<nn::Conv2d>>());
  for (size_t i = 0; i + 1 < ch.size(); ++i) {
    blocks->push_back(std::make_unique<nn::Conv2d>(ch[i], ch[i], 3, 1, 1));
    blocks->push_back(std::make_unique<nn::Conv2d>(ch[i], ch[i + 1], 3, 2, 1));
  }
  conv_out = register_module("conv_out", std::make_unique<nn::Conv2d>(ch.back(), out, 3, 1, 1));
}

at::Tensor ControlNetConditioningEmbedding::forward(const at::Tensor& cond) const {
  at::Tensor h = at::silu(conv_in->forward(cond));
  for (const nn::Conv2d* conv : *blocks) h = at::silu(conv->forward(h));
  return conv_out->forward(h);
}

ControlNetModel::ControlNetModel(const UNetConfig& c) : config_(c) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  conv_in = register_module("conv_in", std::make_unique<nn::Conv2d>(c.in_channels, ch[0], 3, 1, 1));
  time_embedding = register_module("time_embedding", std::make_unique<nn::TimestepEmbedding>(ch[0], c.time_embed_dim()));
  controlnet_cond_embedding = register_module(
      "controlnet_cond_embedding", std::make_unique<ControlNetConditioningEmbedding>(
                                       c.conditioning_channels, c.conditioning_embedding_out_channels, ch[0]));
  down_blocks = register_module("down_blocks", std::make_unique<nn::ModuleList<DownBlock>>());
  controlnet_down_blocks = register_module("controlnet_down_blocks", std::make_unique<nn::ModuleList<nn::Conv2d>>());
  controlnet_down_blocks->push_back(std::make_unique<nn::Conv2d>(ch[0], ch[0], 1));
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = i == 0 ? ch[0] : ch[i - 1];
    BlockSpec s = unet_block_spec(c, in, ch[i], c.layers_per_block, c.down_has_attention(i), c.attention_heads[i], nullptr);
    const bool downsample = i + 1 < n;
    down_blocks->push_back(std::make_unique<DownBlock>(s, downsample, c.downsample_padding));
    for (int64_t l = 0; l < c.layers_per_block + (downsample ? 1 : 0); ++l)
      controlnet_down_blocks->push_back(std::make_unique<nn::Conv2d>(ch[i], ch[i], 1));
  }
  BlockSpec mid = unet_block_spec(c, ch[n - 1], ch[n - 1], 1, true, c.attention_heads[n - 1], nullptr);
  mid_block = register_module("mid_block", std::make_unique<MidBlock>(mid));
  controlnet_mid_block = register_module("controlnet_mid_block", std::make_unique<nn::Conv2d>(ch[n - 1], ch[n - 1], 1));
}

ControlResiduals ControlNetModel::forward(const at::Tensor& sample, double timestep, const at::Tensor& text,
                                          const at::Tensor& cond, double scale, bool shallow_only) const {
  return forward(sample, timestep_tensor(timestep, sample.device()), text, cond, scale, shallow_only);
}

ControlResiduals ControlNetModel::forward(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& text,
                                          const at::Tensor& cond, double scale, bool shallow_only) const {
  BlockContext ctx;
  ctx.temb = unet_time_embedding(*time_embedding, config_, timesteps, sample.size(0), sample.options());
  ctx.attn.text = text;
  at::Tensor c = config_.conditioning_bgr ? cond.flip({1}) : cond;
  at::Tensor h = conv_in->forward(sample) + controlnet_cond_embedding->forward(c);
  std::vector<at::Tensor> skips{h};
  ControlResiduals out;
  auto emit_down = [&] {
    for (size_t i = 0; i < skips.size(); ++i) out.down.push_back((*controlnet_down_blocks)[i].forward(skips[i]) * scale);
  };
  if (shallow_only) {
    (void)(*down_blocks)[0].forward_layers(h, ctx, skips);
    emit_down();
    return out;
  }
  for (const DownBlock* block : *down_blocks) h = down_block_forward(*block, h, ctx, skips, gradient_checkpointing);
  h = mid_block_forward(*mid_block, h, ctx, gradient_checkpointing);
  emit_down();
  out.mid = controlnet_mid_block->forward(h) * scale;
  return out;
}

}  // namespace ma
