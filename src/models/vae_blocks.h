// The KL-VAE's encoder and decoder (diffusers 0.21.4 Encoder / Decoder with
// DownEncoderBlock2D, UpDecoderBlock2D and UNetMidBlock2D), built from the
// shared ResNet / resampler / attention layers. Module names are the
// checkpoint keys below "encoder." and "decoder.".
//
// Everything here works on plain images [N, C, H, W]: no time embedding, and
// every GroupNorm has per-image statistics (frames = 1).
#pragma once
#include <vector>

#include "nn/attention.h"
#include "nn/resnet.h"

namespace ma::vae {

// Sizes shared by encoder and decoder (from config.json).
struct BlockSizes {
  std::vector<int64_t> block_out_channels;
  int64_t layers_per_block = 1;
  int64_t norm_num_groups = 32;
};

// The VAE's single-head self-attention over the H*W pixels of each image:
// group_norm -> to_q/to_k/to_v -> softmax(q k^T / sqrt(C)) v -> to_out.0,
// plus the input (residual). Older checkpoints name the projections
// query/key/value/proj_attn; AutoencoderKL renames those keys before loading.
class AttentionBlock : public nn::Attention {
 public:
  AttentionBlock(int64_t channels, int64_t groups, double eps);
  // x: [N, C, H, W] -> [N, C, H, W]
  at::Tensor forward(const at::Tensor& x) const;
  nn::GroupNorm* group_norm;
};

// resnets.0 -> attentions.0 -> resnets.1, all at one width.
class MidBlock : public nn::Module {
 public:
  MidBlock(int64_t channels, int64_t groups, double eps);
  at::Tensor forward(const at::Tensor& x) const;
  nn::ModuleList<nn::ResnetBlock>* resnets;
  nn::ModuleList<AttentionBlock>* attentions;
};

// DownEncoderBlock2D: `layers` ResNets, then (except the last block) the
// stride-2 conv with the asymmetric (0, 1, 0, 1) pad.
class DownEncoderBlock : public nn::Module {
 public:
  DownEncoderBlock(int64_t in, int64_t out, int64_t layers, int64_t groups, bool add_downsample);
  at::Tensor forward(const at::Tensor& x) const;
  nn::ModuleList<nn::ResnetBlock>* resnets;
  nn::ModuleList<nn::Downsample>* downsamplers = nullptr;
};

// UpDecoderBlock2D: `layers` ResNets, then (except the last block) nearest 2x + conv.
class UpDecoderBlock : public nn::Module {
 public:
  UpDecoderBlock(int64_t in, int64_t out, int64_t layers, int64_t groups, bool add_upsample);
  at::Tensor forward(const at::Tensor& x) const;
  nn::ModuleList<nn::ResnetBlock>* resnets;
  nn::ModuleList<nn::Upsample>* upsamplers = nullptr;
};

// Image [N, in, H, W] -> moments [N, out (= 2 * latent), H/2^k, W/2^k].
class Encoder : public nn::Module {
 public:
  Encoder(int64_t in_channels, int64_t out_channels, const BlockSizes& sizes);
  at::Tensor forward(const at::Tensor& x) const;
  nn::Conv2d* conv_in;
  nn::ModuleList<DownEncoderBlock>* down_blocks;
  MidBlock* mid_block;
  nn::GroupNorm* conv_norm_out;
  nn::Conv2d* conv_out;
};

// Latent [N, in, h, w] -> image [N, out, h*2^k, w*2^k].
class Decoder : public nn::Module {
 public:
  Decoder(int64_t in_channels, int64_t out_channels, const BlockSizes& sizes);
  at::Tensor forward(const at::Tensor& z) const;
  nn::Conv2d* conv_in;
  MidBlock* mid_block;
  nn::ModuleList<UpDecoderBlock>* up_blocks;
  nn::GroupNorm* conv_norm_out;
  nn::Conv2d* conv_out;
};

}  // namespace ma::vae
