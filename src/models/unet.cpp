#include "models/unet.h"

#include "models/block_checkpoint.h"

#include "util/error.h"

namespace ma {

BlockSpec unet_block_spec(const UNetConfig& c, int64_t in, int64_t out, int64_t layers, bool attention,
                          int64_t heads, const MotionModuleConfig* motion) {
  return BlockSpec{in,      out,     c.time_embed_dim(),       layers,   attention, heads, c.cross_attention_dim,
                   c.norm_num_groups, c.norm_eps, c.use_linear_projection, motion};
}

at::Tensor timestep_tensor(double timestep, const at::Device& device) {
  return at::full({1}, timestep, at::TensorOptions().dtype(at::kFloat).device(device));
}

at::Tensor unet_time_embedding(const nn::TimestepEmbedding& embedding, const UNetConfig& c,
                               const at::Tensor& timesteps, int64_t batch, const at::TensorOptions& options) {
  // The original passes an integer timestep tensor; its features are float32.
  at::Tensor t = timesteps.reshape({-1}).to(options.device(), at::kFloat);
  if (t.size(0) != 1 && t.size(0) != batch)
    throw Error("UNet: " + std::to_string(t.size(0)) + " timesteps for a batch of " + std::to_string(batch));
  at::Tensor features = nn::timestep_features(t, c.block_out_channels[0], c.flip_sin_to_cos, c.freq_shift);
  at::Tensor emb = embedding.forward(features.to(options.dtype()));
  // One shared timestep: one embedding row expanded (what the sampler does).
  return t.size(0) == 1 ? emb.expand({batch, -1}) : emb;
}

UNetModel::UNetModel(const UNetConfig& c, UNetKind kind, const MotionModuleConfig& motion)
    : config_(c), kind_(kind), motion_(motion) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  const MotionModuleConfig* mm = kind == UNetKind::kVideo ? &motion_ : nullptr;
  conv_in = register_module("conv_in", std::make_unique<nn::Conv2d>(c.in_channels, ch[0], 3, 1, 1));
  time_embedding = register_module("time_embedding", std::make_unique<nn::TimestepEmbedding>(ch[0], c.time_embed_dim()));

  down_blocks = register_module("down_blocks", std::make_unique<nn::ModuleList<DownBlock>>());
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = i == 0 ? ch[0] : ch[i - 1];
    BlockSpec s = unet_block_spec(c, in, ch[i], c.layers_per_block, c.down_has_attention(i), c.attention_heads[i], mm);
    down_blocks->push_back(std::make_unique<DownBlock>(s, i + 1 < n, c.downsample_padding));
  }
  BlockSpec mid = unet_block_spec(c, ch[n - 1], ch[n - 1], 1, true, c.attention_heads[n - 1], nullptr);
  mid_block = register_module("mid_block", std::make_unique<MidBlock>(mid));

  up_blocks = register_module("up_blocks", std::make_unique<nn::ModuleList<UpBlock>>());
  int64_t prev = ch[n - 1];
  for (size_t i = 0; i < n; ++i) {
    const size_t r = n - 1 - i;  // the matching down block
    const int64_t out = ch[r];
    const int64_t in = ch[r == 0 ? 0 : r - 1];
    BlockSpec s = unet_block_spec(c, in, out, c.layers_per_block + 1, c.up_has_attention(i), c.attention_heads[r], mm);
    const bool last = i + 1 == n;
    up_blocks->push_back(std::make_unique<UpBlock>(s, prev, !last, last && kind == UNetKind::kAppearanceEncoder));
    prev = out;
  }
  if (kind != UNetKind::kAppearanceEncoder) {
    conv_norm_out = register_module("conv_norm_out", std::make_unique<nn::GroupNorm>(c.norm_num_groups, ch[0], c.norm_eps));
    conv_out = register_module("conv_out", std::make_unique<nn::Conv2d>(ch[0], c.out_channels, 3, 1, 1));
  }
}

at::Tensor UNetModel::forward(const at::Tensor& sample, double timestep, const at::Tensor& text, int64_t frames,
                              const ControlResiduals* residuals, nn::ReferenceBank* reference, bool cfg_halves,
                              DeepFeatureCache* deep) const {
  return forward(sample, timestep_tensor(timestep, sample.device()), text, frames, residuals, reference, cfg_halves,
                 deep);
}

size_t UNetModel::shallow_skip_count() const { return 1 + (*down_blocks)[0].resnets->size(); }

at::Tensor UNetModel::forward(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& text,
                              int64_t frames, const ControlResiduals* residuals, nn::ReferenceBank* reference,
                              bool cfg_halves, DeepFeatureCache* deep) const {
  const int64_t batch = sample.size(0) / frames;
  if (batch * frames != sample.size(0)) throw Error("UNet: batch is not a multiple of the frame count");
  if (deep) {
    if (kind_ != UNetKind::kVideo) throw Error("UNet: deep-feature reuse is for the video UNet only");
    if (deep->mode == DeepFeatureCache::Mode::kReuse && !deep->stored())
      throw Error("UNet: deep-feature reuse before a full pass stored the features");
  }
  const DeepFeatureCache::Mode deep_mode = deep ? deep->mode : DeepFeatureCache::Mode::kStore;

  // Classifier-free guidance: the batch is [unconditional videos; conditional
  // videos], and only the conditional half attends to the reference (the
  // unconditional half gets plain self-attention, the original's uc_mask
  // rule). Nothing else mixes the halves (GroupNorm and the motion modules
  // work per video), so they run one after the other: the same numbers with
  // half the activation memory, and the plain self-attention computed once.
  if (cfg_halves && kind_ == UNetKind::kVideo && batch > 1) {
    if (batch % 2 != 0) throw Error("UNet: guidance needs an even number of videos, got " + std::to_string(batch));
    const int64_t rows = sample.size(0) / 2, half = batch / 2;
    auto half_of = [&](const at::Tensor& x, int64_t i) {
      return x.dim() > 0 && x.size(0) == batch ? x.slice(0, i * half, (i + 1) * half) : x;
    };
    at::Tensor uncond = forward_batch(sample.slice(0, 0, rows), half_of(timesteps, 0), half_of(text, 0), frames,
                                      residuals, nullptr, deep_mode, deep ? &deep->halves[0] : nullptr);
    at::Tensor cond = forward_batch(sample.slice(0, rows), half_of(timesteps, 1), half_of(text, 1), frames, residuals,
                                    reference, deep_mode, deep ? &deep->halves[1] : nullptr);
    return at::cat({uncond, cond}, 0);
  }
  return forward_batch(sample, timesteps, text, frames, residuals, reference, deep_mode,
                       deep ? &deep->halves[0] : nullptr);
}

at::Tensor UNetModel::forward_batch(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& text,
                                    int64_t frames, const ControlResiduals* residuals, nn::ReferenceBank* reference,
                                    DeepFeatureCache::Mode deep_mode, DeepFeatureCache::Slot* slot) const {
  const int64_t batch = sample.size(0) / frames;
  const bool reuse = slot && deep_mode == DeepFeatureCache::Mode::kReuse;
  BlockContext ctx;
  ctx.temb = unet_time_embedding(*time_embedding, config_, timesteps, batch, sample.options());
  ctx.frames = frames;
  ctx.attn.text = text;

  // ControlNet residuals are per frame; every batch half receives the same.
  // (Residuals with a row per sample, a training batch of images, add as they are.)
  auto add_residual = [&](const at::Tensor& h, const at::Tensor& r) {
    return batch == 1 || r.size(0) == h.size(0) ? h + r : h + r.repeat({batch, 1, 1, 1});
  };

  at::Tensor h = conv_in->forward(sample);
  std::vector<at::Tensor> skips{h};
  if (reuse) {  // the shallow branch: the first down block's layers only
    (void)(*down_blocks)[0].forward_layers(h, ctx, skips);
  } else {
    for (const DownBlock* block : *down_blocks) h = down_block_forward(*block, h, ctx, skips, gradient_checkpointing);
  }
  if (residuals) {
    const bool enough = reuse ? residuals->down.size() >= skips.size() : residuals->down.size() == skips.size();
    if (!enough)
      throw Error("UNet: expected " + std::to_string(skips.size()) + " ControlNet residuals, got " +
                  std::to_string(residuals->down.size()));
    for (size_t i = 0; i < skips.size(); ++i) skips[i] = add_residual(skips[i], residuals->down[i]);
  }

  ctx.attn.reference = reference;  // reference attention in the mid and up blocks only
  const bool reading = reference && reference->mode == nn::ReferenceBank::Mode::kRead;
  if (reading) reference->cursor = 0;
  if (reuse) {
    h = slot->deep;
    if (reading) reference->cursor = slot->reference_cursor;
    h = up_block_forward((*up_blocks)[up_blocks->size() - 1], h, ctx, skips, gradient_checkpointing);
  } else {
    h = mid_block_forward(*mid_block, h, ctx, gradient_checkpointing);
    if (residuals) h = add_residual(h, residuals->mid);
    for (size_t i = 0; i < up_blocks->size(); ++i) {
      if (slot && i + 1 == up_blocks->size()) *slot = {h, reading ? reference->cursor : 0};
      h = up_block_forward((*up_blocks)[i], h, ctx, skips, gradient_checkpointing);
      if (!h.defined()) return h;  // appearance encoder: the bank is complete
    }
  }
  if (reading && reference->cursor != reference->entries.size())
    throw Error("reference attention: the appearance encoder banked " + std::to_string(reference->entries.size()) +
                " blocks but the UNet read " + std::to_string(reference->cursor));
  h = at::silu(nn::group_norm_frames(*conv_norm_out, h, frames));
  return conv_out->forward(h);
}

}  // namespace ma
