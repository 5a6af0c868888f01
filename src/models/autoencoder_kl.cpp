#include "models/autoencoder_kl.h"

#include <algorithm>

#include "util/cpu_features.h"
#include "weights/weights.h"
#include "util/error.h"

namespace ma {
namespace {

void require_all_equal(const std::vector<std::string>& types, size_t expected_count, const std::string& key,
                       const std::string& supported) {
  if (types.size() != expected_count)
    throw Error("VAE config: '" + key + "' has " + std::to_string(types.size()) + " entries, block_out_channels has " +
                std::to_string(expected_count));
  for (const auto& t : types)
    if (t != supported) throw Error("VAE config: unsupported " + key + " entry '" + t + "' (only " + supported + ")");
}

}  // namespace

AutoencoderKLConfig AutoencoderKLConfig::from_json(const Json& j) {
  if (!j.is_object()) throw Error("VAE config: not a JSON object");
  AutoencoderKLConfig c;
  c.in_channels = cfg_int(j, "in_channels", c.in_channels);
  c.out_channels = cfg_int(j, "out_channels", c.out_channels);
  c.latent_channels = cfg_int(j, "latent_channels", c.latent_channels);
  c.block_out_channels = cfg_ints(j, "block_out_channels", c.block_out_channels);
  c.layers_per_block = cfg_int(j, "layers_per_block", c.layers_per_block);
  c.norm_num_groups = cfg_int(j, "norm_num_groups", c.norm_num_groups);
  c.scaling_factor = cfg_double(j, "scaling_factor", c.scaling_factor);

  if (c.block_out_channels.empty()) throw Error("VAE config: block_out_channels is empty");
  const size_t blocks = c.block_out_channels.size();
  require_all_equal(cfg_strings(j, "down_block_types", {"DownEncoderBlock2D"}), blocks, "down_block_types",
                    "DownEncoderBlock2D");
  require_all_equal(cfg_strings(j, "up_block_types", {"UpDecoderBlock2D"}), blocks, "up_block_types",
                    "UpDecoderBlock2D");
  const std::string act = cfg_string(j, "act_fn", "silu");
  if (act != "silu") throw Error("VAE config: unsupported act_fn '" + act + "' (only silu)");

  if (c.in_channels <= 0 || c.out_channels <= 0 || c.latent_channels <= 0 || c.layers_per_block <= 0 ||
      c.norm_num_groups <= 0)
    throw Error("VAE config: channel counts, layers_per_block and norm_num_groups must be positive");
  for (int64_t ch : c.block_out_channels)
    if (ch <= 0 || ch % c.norm_num_groups != 0)
      throw Error("VAE config: block_out_channels entry " + std::to_string(ch) + " is not a positive multiple of " +
                  "norm_num_groups " + std::to_string(c.norm_num_groups));
  return c;
}

AutoencoderKLConfig AutoencoderKLConfig::from_file(const std::string& config_path) {
  Json j = read_json_file(config_path);
  try {
    return from_json(j);
  } catch (const Error& e) {
    throw Error(config_path + ": " + e.what());
  }
}

TensorMap rename_legacy_attention_keys(TensorMap state, const std::vector<std::string>& attention_paths) {
  static const std::pair<const char*, const char*> kRenames[] = {
      {"query", "to_q"}, {"key", "to_k"}, {"value", "to_v"}, {"proj_attn", "to_out.0"}};
  for (const auto& path : attention_paths) {
    for (const auto& [old_name, new_name] : kRenames) {
      for (const char* leaf : {"weight", "bias"}) {
        auto it = state.find(path + "." + old_name + "." + leaf);
        if (it == state.end()) continue;
        state[path + "." + new_name + "." + leaf] = it->second;
        state.erase(it);
      }
    }
  }
  return state;
}

AutoencoderKL::AutoencoderKL(const AutoencoderKLConfig& config) : config_(config) {
  const vae::BlockSizes sizes{config.block_out_channels, config.layers_per_block, config.norm_num_groups};
  const int64_t latent = config.latent_channels;
  // The encoder emits mean and log-variance (double_z), hence 2 * latent.
  encoder = register_module("encoder", std::make_unique<vae::Encoder>(config.in_channels, 2 * latent, sizes));
  decoder = register_module("decoder", std::make_unique<vae::Decoder>(latent, config.out_channels, sizes));
  quant_conv = register_module("quant_conv", std::make_unique<nn::Conv2d>(2 * latent, 2 * latent, 1));
  post_quant_conv = register_module("post_quant_conv", std::make_unique<nn::Conv2d>(latent, latent, 1));
}

AutoencoderKL::AutoencoderKL(const std::string& config_path)
    : AutoencoderKL(AutoencoderKLConfig::from_file(config_path)) {}

void AutoencoderKL::load(const std::string& weights_path, const DeviceDtype& opt) {
  load(load_weights(weights_path, opt), opt, weights_path);
}

void AutoencoderKL::load(const TensorMap& state, const DeviceDtype& opt, const std::string& what) {
  std::vector<std::string> attention_paths;
  visit([&](const std::string& path, nn::Module& m) {
    if (dynamic_cast<vae::AttentionBlock*>(&m)) attention_paths.push_back(path);
  });
  nn::LoadOptions lo;
  lo.tensor = opt;
  loaded_ = false;
  nn::require_ok(nn::load_state_dict(*this, rename_legacy_attention_keys(state, attention_paths), lo), what);
  options_ = opt;
  loaded_ = true;
}

void AutoencoderKL::require_loaded() const {
  if (!loaded_) throw Error("VAE: weights not loaded");
}

namespace {
void require_image_batch(const at::Tensor& x, int64_t channels, const char* what) {
  if (!x.defined() || x.dim() != 4 || x.size(1) != channels)
    throw Error(std::string("VAE ") + what + ": expected [B, " + std::to_string(channels) + ", H, W], got " +
                (x.defined() ? nn::shape_str(x.sizes()) : std::string("nothing")));
}
}  // namespace

at::Tensor AutoencoderKL::encode_mean(const at::Tensor& image) const { return encode(image).mean; }

VaePosterior AutoencoderKL::encode(const at::Tensor& image) const {
  require_loaded();
  require_image_batch(image, config_.in_channels, "encode");
  at::Tensor moments = quant_conv->forward(encoder->forward(image.to(options_.device, options_.dtype)));
  auto halves = moments.chunk(2, 1);  // [mean, logvar]
  return {halves[0], at::clamp(halves[1], -30.0, 20.0)};
}

at::Tensor VaePosterior::sample(at::Generator& generator) const {
  at::Tensor noise = at::randn(mean.sizes(), generator, at::TensorOptions().dtype(at::kFloat));
  return mean + stddev() * noise.to(mean.options());
}

at::Tensor AutoencoderKL::decode(const at::Tensor& latents) const {
  require_loaded();
  require_image_batch(latents, config_.latent_channels, "decode");
  return decoder->forward(post_quant_conv->forward(latents.to(options_.device, options_.dtype)));
}

at::Tensor AutoencoderKL::encode_reference(const at::Tensor& image_u8) const {
  require_loaded();
  if (!image_u8.defined() || image_u8.scalar_type() != at::kByte || image_u8.dim() != 3 ||
      image_u8.size(2) != config_.in_channels)
    throw Error("VAE encode_reference: expected uint8 [H, W, " + std::to_string(config_.in_channels) + "], got " +
                (image_u8.defined() ? std::string(c10::toString(image_u8.scalar_type())) + " " +
                                          nn::shape_str(image_u8.sizes())
                                    : std::string("nothing")));
  // As the original: float, then the model dtype, then / 127.5 - 1; HWC -> 1CHW.
  at::Tensor x = image_u8.to(options_.device, at::kFloat).to(options_.dtype) / 127.5 - 1;
  x = x.permute({2, 0, 1}).unsqueeze(0);
  return encode_mean(x) * kMagicAnimateLatentScale;
}

int64_t AutoencoderKL::decode_frames_within(int64_t budget_bytes, int64_t h, int64_t w) const {
  const auto& widths = config_.block_out_channels;
  const int64_t channels = widths.size() > 1 ? widths[1] : widths.front();
  const int64_t upscale = int64_t{1} << (widths.size() - 1);
  const int64_t element = static_cast<int64_t>(c10::elementSize(options_.dtype));
  const int64_t per_frame = 6 * channels * (h * upscale) * (w * upscale) * element;
  return std::clamp<int64_t>(budget_bytes / std::max<int64_t>(1, per_frame), 1, kMaxDecodeFrames);
}

int64_t AutoencoderKL::decode_batch(int64_t budget_bytes, int64_t h, int64_t w) const {
  if (options_.device.is_cpu() && !cpu_has_avx512_core()) return 1;
  return decode_frames_within(budget_bytes, h, w);
}

at::Tensor AutoencoderKL::decode_video(const at::Tensor& latents, int64_t frames_per_batch) const {
  require_loaded();
  if (frames_per_batch < 1) throw Error("VAE decode_video: frames_per_batch must be at least 1");
  if (!latents.defined() || latents.dim() != 5 || latents.size(1) != config_.latent_channels ||
      latents.numel() == 0)
    throw Error("VAE decode_video: expected latents [B, " + std::to_string(config_.latent_channels) +
                ", F, h, w], got " + (latents.defined() ? nn::shape_str(latents.sizes()) : std::string("nothing")));
  const int64_t b = latents.size(0), c = latents.size(1), f = latents.size(2);
  // The original multiplies by 1 / 0.18215 (not a division), then folds frames
  // into the batch: b c f h w -> (b f) c h w.
  at::Tensor z = (latents.to(options_.device, options_.dtype) * (1.0 / kMagicAnimateLatentScale))
                     .permute({0, 2, 1, 3, 4})
                     .reshape({b * f, c, latents.size(3), latents.size(4)});
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < b * f; start += frames_per_batch) {
    at::Tensor frames = decode(z.slice(0, start, std::min(start + frames_per_batch, b * f)));
    parts.push_back((frames / 2 + 0.5).clamp(0, 1).to(at::kFloat));
  }
  at::Tensor video = at::cat(parts, 0);  // [(b f), 3, H, W]
  return video.reshape({b, f, video.size(1), video.size(2), video.size(3)}).permute({0, 2, 1, 3, 4}).contiguous();
}

}  // namespace ma
