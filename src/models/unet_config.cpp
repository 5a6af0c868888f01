#include "models/unet_config.h"

#include "util/error.h"

namespace ma {

namespace {
bool is_cross_attention_block(const std::string& type) { return type.rfind("CrossAttn", 0) == 0; }

void check_block_types(const std::vector<std::string>& types, const std::string& what) {
  for (const auto& t : types) {
    static const char* known[] = {"CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnDownBlock3D", "DownBlock3D",
                                  "CrossAttnUpBlock2D",   "UpBlock2D",   "CrossAttnUpBlock3D",   "UpBlock3D"};
    bool ok = false;
    for (const char* k : known) ok = ok || t == k;
    if (!ok) throw Error(what + ": unsupported block type '" + t + "'");
  }
}
}  // namespace

UNetConfig UNetConfig::from_json(const Json& j, const std::string& what) {
  UNetConfig c;
  c.in_channels = cfg_int(j, "in_channels", 4);
  c.out_channels = cfg_int(j, "out_channels", 4);
  c.block_out_channels = cfg_ints(j, "block_out_channels", {320, 640, 1280, 1280});
  c.down_block_types = cfg_strings(j, "down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                           "CrossAttnDownBlock2D", "DownBlock2D"});
  // No up_block_types (a ControlNet's config): the down blocks mirrored, so
  // the lengths agree for any depth (only a UNet's up blocks are ever built).
  std::vector<std::string> mirrored;
  for (auto it = c.down_block_types.rbegin(); it != c.down_block_types.rend(); ++it)
    mirrored.push_back(it->rfind("CrossAttn", 0) == 0 ? "CrossAttnUpBlock2D" : "UpBlock2D");
  c.up_block_types = cfg_strings(j, "up_block_types", mirrored);
  c.layers_per_block = cfg_int(j, "layers_per_block", 2);
  c.norm_num_groups = cfg_int(j, "norm_num_groups", 32);
  c.norm_eps = cfg_double(j, "norm_eps", 1e-5);
  c.cross_attention_dim = cfg_int(j, "cross_attention_dim", 1280);
  const size_t n = c.block_out_channels.size();
  // diffusers' historical naming: `attention_head_dim` holds the number of heads
  // unless `num_attention_heads` is set.
  std::vector<int64_t> heads = cfg_ints(j, "num_attention_heads", {});
  if (heads.empty()) heads = cfg_ints(j, "attention_head_dim", std::vector<int64_t>(n, 8));
  if (heads.size() == 1) heads.assign(n, heads[0]);
  c.attention_heads = heads;
  c.flip_sin_to_cos = cfg_bool(j, "flip_sin_to_cos", true);
  c.freq_shift = cfg_double(j, "freq_shift", 0);
  c.downsample_padding = cfg_int(j, "downsample_padding", 1);
  c.use_linear_projection = cfg_bool(j, "use_linear_projection", false);
  c.conditioning_embedding_out_channels = cfg_ints(j, "conditioning_embedding_out_channels", {16, 32, 96, 256});
  c.conditioning_channels = cfg_int(j, "conditioning_channels", 3);
  c.conditioning_bgr = cfg_string(j, "controlnet_conditioning_channel_order", "rgb") == "bgr";

  if (n == 0 || c.down_block_types.size() != n || c.up_block_types.size() != n || c.attention_heads.size() != n)
    throw Error(what + ": block_out_channels, down/up_block_types and attention heads must have the same length");
  check_block_types(c.down_block_types, what);
  check_block_types(c.up_block_types, what);
  if (c.layers_per_block < 1 || c.norm_num_groups < 1) throw Error(what + ": invalid layers_per_block/norm_num_groups");
  for (size_t i = 0; i < n; ++i) {
    const int64_t ch = c.block_out_channels[i];
    if (ch <= 0 || ch % c.norm_num_groups != 0)
      throw Error(what + ": block_out_channels " + std::to_string(ch) + " not divisible by norm_num_groups");
    if (c.attention_heads[i] <= 0 || ch % c.attention_heads[i] != 0)
      throw Error(what + ": block_out_channels " + std::to_string(ch) + " not divisible by the attention heads");
  }
  return c;
}

UNetConfig UNetConfig::load(const std::string& path) { return from_json(read_json_file(path), path); }

bool UNetConfig::down_has_attention(size_t i) const { return is_cross_attention_block(down_block_types.at(i)); }
bool UNetConfig::up_has_attention(size_t i) const { return is_cross_attention_block(up_block_types.at(i)); }

}  // namespace ma
