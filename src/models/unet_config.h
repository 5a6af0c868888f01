// The sizes of a UNet-family model (UNet2DConditionModel, the appearance
// encoder, the ControlNet, the inflated 3D UNet), read from its diffusers
// config.json. Nothing about SD 1.5 is hard-coded.
#pragma once
#include <string>
#include <vector>

#include "util/config.h"

namespace ma {

struct UNetConfig {
  int64_t in_channels = 4, out_channels = 4;
  std::vector<int64_t> block_out_channels;
  std::vector<std::string> down_block_types, up_block_types;
  int64_t layers_per_block = 2;
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  int64_t cross_attention_dim = 768;
  std::vector<int64_t> attention_heads;  // per down block (num_attention_heads, else attention_head_dim)
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  int64_t downsample_padding = 1;
  bool use_linear_projection = false;
  // ControlNet only.
  std::vector<int64_t> conditioning_embedding_out_channels;
  int64_t conditioning_channels = 3;
  bool conditioning_bgr = false;

  static UNetConfig from_json(const Json& j, const std::string& what);
  static UNetConfig load(const std::string& config_path);

  bool down_has_attention(size_t i) const;
  bool up_has_attention(size_t i) const;
  int64_t time_embed_dim() const { return block_out_channels.at(0) * 4; }
};

}  // namespace ma
