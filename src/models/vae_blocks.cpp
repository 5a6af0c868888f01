#include "models/vae_blocks.h"

#include "util/error.h"

namespace ma::vae {
namespace {

// The original builds every VAE ResNet, GroupNorm and attention with eps 1e-6.
constexpr double kEps = 1e-6;

std::unique_ptr<nn::ResnetBlock> resnet(int64_t in, int64_t out, int64_t groups) {
  return std::make_unique<nn::ResnetBlock>(in, out, /*temb_channels=*/0, groups, kEps);
}

}  // namespace

// One head of width `channels` (diffusers passes attention_head_dim = channels),
// biases on every projection.
AttentionBlock::AttentionBlock(int64_t channels, int64_t groups, double eps)
    : nn::Attention(channels, channels, /*heads=*/1, /*dim_head=*/channels, /*qkv_bias=*/true,
                    /*out_bias=*/true) {
  group_norm = register_module("group_norm", std::make_unique<nn::GroupNorm>(groups, channels, eps));
}

at::Tensor AttentionBlock::forward(const at::Tensor& x) const {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // GroupNorm over [N, C, H, W] has the same statistics as the original's
  // GroupNorm over [N, C, H*W]; then one token per pixel.
  at::Tensor tokens = group_norm->forward(x).reshape({n, c, h * w}).transpose(1, 2);
  at::Tensor out = nn::Attention::forward(tokens);  // [N, HW, C]
  // Residual connection; rescale_output_factor is 1.
  return out.transpose(1, 2).reshape({n, c, h, w}) + x;
}

MidBlock::MidBlock(int64_t channels, int64_t groups, double eps) {
  resnets = register_module("resnets", std::make_unique<nn::ModuleList<nn::ResnetBlock>>());
  attentions = register_module("attentions", std::make_unique<nn::ModuleList<AttentionBlock>>());
  resnets->push_back(std::make_unique<nn::ResnetBlock>(channels, channels, 0, groups, eps));
  attentions->push_back(std::make_unique<AttentionBlock>(channels, groups, eps));
  resnets->push_back(std::make_unique<nn::ResnetBlock>(channels, channels, 0, groups, eps));
}

at::Tensor MidBlock::forward(const at::Tensor& x) const {
  at::Tensor h = (*resnets)[0].forward(x);
  h = (*attentions)[0].forward(h);
  return (*resnets)[1].forward(h);
}

DownEncoderBlock::DownEncoderBlock(int64_t in, int64_t out, int64_t layers, int64_t groups, bool add_downsample) {
  resnets = register_module("resnets", std::make_unique<nn::ModuleList<nn::ResnetBlock>>());
  for (int64_t i = 0; i < layers; ++i) resnets->push_back(resnet(i == 0 ? in : out, out, groups));
  if (add_downsample) {
    downsamplers = register_module("downsamplers", std::make_unique<nn::ModuleList<nn::Downsample>>());
    downsamplers->push_back(std::make_unique<nn::Downsample>(out, out, /*padding=*/0));
  }
}

at::Tensor DownEncoderBlock::forward(const at::Tensor& x) const {
  at::Tensor h = x;
  for (const auto* r : *resnets) h = r->forward(h);
  if (downsamplers) h = (*downsamplers)[0].forward(h);
  return h;
}

UpDecoderBlock::UpDecoderBlock(int64_t in, int64_t out, int64_t layers, int64_t groups, bool add_upsample) {
  resnets = register_module("resnets", std::make_unique<nn::ModuleList<nn::ResnetBlock>>());
  for (int64_t i = 0; i < layers; ++i) resnets->push_back(resnet(i == 0 ? in : out, out, groups));
  if (add_upsample) {
    upsamplers = register_module("upsamplers", std::make_unique<nn::ModuleList<nn::Upsample>>());
    upsamplers->push_back(std::make_unique<nn::Upsample>(out, out));
  }
}

at::Tensor UpDecoderBlock::forward(const at::Tensor& x) const {
  at::Tensor h = x;
  for (const auto* r : *resnets) h = r->forward(h);
  if (upsamplers) h = (*upsamplers)[0].forward(h);
  return h;
}

Encoder::Encoder(int64_t in_channels, int64_t out_channels, const BlockSizes& s) {
  const auto& ch = s.block_out_channels;
  if (ch.empty()) throw Error("VAE config: block_out_channels is empty");
  conv_in = register_module("conv_in", std::make_unique<nn::Conv2d>(in_channels, ch.front(), 3, 1, 1));
  down_blocks = register_module("down_blocks", std::make_unique<nn::ModuleList<DownEncoderBlock>>());
  int64_t prev = ch.front();
  for (size_t i = 0; i < ch.size(); ++i) {
    const bool last = i + 1 == ch.size();
    down_blocks->push_back(
        std::make_unique<DownEncoderBlock>(prev, ch[i], s.layers_per_block, s.norm_num_groups, !last));
    prev = ch[i];
  }
  mid_block = register_module("mid_block", std::make_unique<MidBlock>(ch.back(), s.norm_num_groups, kEps));
  conv_norm_out = register_module("conv_norm_out", std::make_unique<nn::GroupNorm>(s.norm_num_groups, ch.back(), kEps));
  conv_out = register_module("conv_out", std::make_unique<nn::Conv2d>(ch.back(), out_channels, 3, 1, 1));
}

at::Tensor Encoder::forward(const at::Tensor& x) const {
  at::Tensor h = conv_in->forward(x);
  for (const auto* b : *down_blocks) h = b->forward(h);
  h = mid_block->forward(h);
  return conv_out->forward(at::silu(conv_norm_out->forward(h)));
}

// The decoder mirrors the encoder: widths reversed, one more ResNet per block.
Decoder::Decoder(int64_t in_channels, int64_t out_channels, const BlockSizes& s) {
  const auto& ch = s.block_out_channels;
  if (ch.empty()) throw Error("VAE config: block_out_channels is empty");
  conv_in = register_module("conv_in", std::make_unique<nn::Conv2d>(in_channels, ch.back(), 3, 1, 1));
  mid_block = register_module("mid_block", std::make_unique<MidBlock>(ch.back(), s.norm_num_groups, kEps));
  up_blocks = register_module("up_blocks", std::make_unique<nn::ModuleList<UpDecoderBlock>>());
  int64_t prev = ch.back();
  for (size_t i = 0; i < ch.size(); ++i) {
    const int64_t out = ch[ch.size() - 1 - i];
    const bool last = i + 1 == ch.size();
    up_blocks->push_back(
        std::make_unique<UpDecoderBlock>(prev, out, s.layers_per_block + 1, s.norm_num_groups, !last));
    prev = out;
  }
  conv_norm_out = register_module("conv_norm_out", std::make_unique<nn::GroupNorm>(s.norm_num_groups, ch.front(), kEps));
  conv_out = register_module("conv_out", std::make_unique<nn::Conv2d>(ch.front(), out_channels, 3, 1, 1));
}

at::Tensor Decoder::forward(const at::Tensor& z) const {
  at::Tensor h = conv_in->forward(z);
  h = mid_block->forward(h);
  for (const auto* b : *up_blocks) h = b->forward(h);
  return conv_out->forward(at::silu(conv_norm_out->forward(h)));
}

}  // namespace ma::vae
