#include "models/unet_blocks.h"

namespace ma {

namespace {

std::unique_ptr<nn::SpatialTransformer> make_transformer(const BlockSpec& s, bool bank_only = false) {
  return std::make_unique<nn::SpatialTransformer>(s.out_channels, s.heads, s.cross_dim, s.groups, 1,
                                                  s.use_linear_projection, bank_only);
}
}  // namespace

DownBlock::DownBlock(const BlockSpec& s, bool add_downsample, int64_t downsample_padding) {
  resnets = register_module("resnets", std::make_unique<nn::ModuleList<nn::ResnetBlock>>());
  if (s.attention) attentions = register_module("attentions", std::make_unique<nn::ModuleList<nn::SpatialTransformer>>());
  if (s.motion) motion_modules = register_module("motion_modules", std::make_unique<nn::ModuleList<MotionModule>>());
  for (int64_t i = 0; i < s.layers; ++i) {
    const int64_t in = i == 0 ? s.in_channels : s.out_channels;
    resnets->push_back(std::make_unique<nn::ResnetBlock>(in, s.out_channels, s.temb_channels, s.groups, s.eps));
    if (attentions) attentions->push_back(make_transformer(s));
    if (motion_modules) motion_modules->push_back(std::make_unique<MotionModule>(s.out_channels, *s.motion));
  }
  if (add_downsample) {
    downsamplers = register_module("downsamplers", std::make_unique<nn::ModuleList<nn::Downsample>>());
    downsamplers->push_back(std::make_unique<nn::Downsample>(s.out_channels, s.out_channels, downsample_padding));
  }
}

at::Tensor DownBlock::forward_layers(const at::Tensor& x, const BlockContext& ctx,
                                     std::vector<at::Tensor>& skips) const {
  at::Tensor h = x;
  for (size_t i = 0; i < resnets->size(); ++i) {
    h = (*resnets)[i].forward(h, ctx.temb, ctx.frames);
    if (attentions) h = (*attentions)[i].forward(h, ctx.attn);
    if (motion_modules) h = (*motion_modules)[i].forward(h, ctx.frames);
    skips.push_back(h);
  }
  return h;
}

at::Tensor DownBlock::forward(const at::Tensor& x, const BlockContext& ctx, std::vector<at::Tensor>& skips) const {
  at::Tensor h = forward_layers(x, ctx, skips);
  if (downsamplers) {
    h = (*downsamplers)[0].forward(h);
    skips.push_back(h);
  }
  return h;
}

MidBlock::MidBlock(const BlockSpec& s) {
  resnets = register_module("resnets", std::make_unique<nn::ModuleList<nn::ResnetBlock>>());
  attentions = register_module("attentions", std::make_unique<nn::ModuleList<nn::SpatialTransformer>>());
  for (int i = 0; i < 2; ++i)
    resnets->push_back(
        std::make_unique<nn::ResnetBlock>(s.out_channels, s.out_channels, s.temb_channels, s.groups, s.eps));
  attentions->push_back(make_transformer(s));
}

at::Tensor MidBlock::forward(const at::Tensor& x, const BlockContext& ctx) const {
  at::Tensor h = (*resnets)[0].forward(x, ctx.temb, ctx.frames);
  for (size_t i = 0; i < attentions->size(); ++i) {
    h = (*attentions)[i].forward(h, ctx.attn);
    h = (*resnets)[i + 1].forward(h, ctx.temb, ctx.frames);
  }
  return h;
}

UpBlock::UpBlock(const BlockSpec& s, int64_t prev_channels, bool add_upsample, bool bank_only_last) {
  resnets = register_module("resnets", std::make_unique<nn::ModuleList<nn::ResnetBlock>>());
  if (s.attention) attentions = register_module("attentions", std::make_unique<nn::ModuleList<nn::SpatialTransformer>>());
  if (s.motion) motion_modules = register_module("motion_modules", std::make_unique<nn::ModuleList<MotionModule>>());
  for (int64_t i = 0; i < s.layers; ++i) {
    const int64_t skip = i == s.layers - 1 ? s.in_channels : s.out_channels;
    const int64_t in = i == 0 ? prev_channels : s.out_channels;
    resnets->push_back(std::make_unique<nn::ResnetBlock>(in + skip, s.out_channels, s.temb_channels, s.groups, s.eps));
    if (attentions) attentions->push_back(make_transformer(s, bank_only_last && i == s.layers - 1));
    if (motion_modules) motion_modules->push_back(std::make_unique<MotionModule>(s.out_channels, *s.motion));
  }
  if (add_upsample) {
    upsamplers = register_module("upsamplers", std::make_unique<nn::ModuleList<nn::Upsample>>());
    upsamplers->push_back(std::make_unique<nn::Upsample>(s.out_channels, s.out_channels));
  }
}

at::Tensor UpBlock::forward(const at::Tensor& x, const BlockContext& ctx, std::vector<at::Tensor>& skips) const {
  at::Tensor h = x;
  for (size_t i = 0; i < resnets->size(); ++i) {
    h = at::cat({h, skips.back()}, 1);
    skips.pop_back();
    h = (*resnets)[i].forward(h, ctx.temb, ctx.frames);
    if (attentions) {
      h = (*attentions)[i].forward(h, ctx.attn);
      if (!h.defined()) return h;
    }
    if (motion_modules) h = (*motion_modules)[i].forward(h, ctx.frames);
  }
  if (upsamplers) {
    // Upsample to the next skip connection's size (equals 2x unless the input
    // size was not a multiple of the total downsampling factor).
    std::vector<int64_t> size = {skips.back().size(2), skips.back().size(3)};
    h = (*upsamplers)[0].forward(h, at::IntArrayRef(size));
  }
  return h;
}

}  // namespace ma
