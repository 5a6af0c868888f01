// The KL-VAE (diffusers 0.21.4 AutoencoderKL) that turns the source image into
// reference latents and the final latents into video frames. Parameter names
// are the checkpoint keys: encoder.*, quant_conv.*, post_quant_conv.*, decoder.*.
//
// Weights: diffusers >= 0.14 files name the mid-block attention projections
// to_q/to_k/to_v/to_out.0; older files (the released sd-vae-ft-mse .bin) use
// query/key/value/proj_attn. load() renames the old names to the new ones
// first, exactly as diffusers' _convert_deprecated_attention_blocks does.
#pragma once
#include <string>
#include <vector>

#include "util/config.h"
#include "weights/tensor_map.h"
#include "models/vae_blocks.h"
#include "nn/module.h"

namespace ma {

// The literal latent scale MagicAnimate's pipeline uses for the reference
// latents and for decoding (it does not read the VAE's scaling_factor).
constexpr double kMagicAnimateLatentScale = 0.18215;

struct AutoencoderKLConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t latent_channels = 4;
  std::vector<int64_t> block_out_channels{64};
  int64_t layers_per_block = 1;
  int64_t norm_num_groups = 32;
  double scaling_factor = 0.18215;

  // Defaults are diffusers' AutoencoderKL defaults. Throws ma::Error naming
  // the key for anything we cannot build (unknown block type, activation,
  // channels not divisible by the group count, ...).
  static AutoencoderKLConfig from_json(const Json& j);
  static AutoencoderKLConfig from_file(const std::string& config_path);
};

// Renames old-style attention keys ("<path>.query.weight" -> "<path>.to_q.weight",
// key -> to_k, value -> to_v, proj_attn -> to_out.0) for every attention
// block path given; like diffusers, an old key replaces a new one of the same name.
TensorMap rename_legacy_attention_keys(TensorMap state, const std::vector<std::string>& attention_paths);

// The encoder's diagonal Gaussian posterior (diffusers'
// DiagonalGaussianDistribution): mean and logvar [B, latent, h, w], logvar
// clamped to [-30, 20] as there.
struct VaePosterior {
  at::Tensor mean, logvar;
  at::Tensor stddev() const { return at::exp(0.5 * logvar); }
  // mean + stddev * noise, the noise drawn from `generator` (float32 on the CPU,
  // like torch.randn with a CPU generator, then moved to mean's device/dtype).
  at::Tensor sample(at::Generator& generator) const;
};

class AutoencoderKL : public nn::Module {
 public:
  // Declares the module tree (shapes only, no weights allocated).
  explicit AutoencoderKL(const AutoencoderKLConfig& config);
  explicit AutoencoderKL(const std::string& config_path);

  // Loads every weight (any format load_weights reads), converted to `opt`.
  // A missing, unexpected or mis-shaped key throws ma::Error naming it.
  void load(const std::string& weights_path, const DeviceDtype& opt = {});
  void load(const TensorMap& state, const DeviceDtype& opt = {}, const std::string& what = "VAE weights");

  // image [B, in, H, W] (values in [-1, 1]) -> posterior mean [B, latent, H/8, W/8]
  // (quant_conv moments split in two; the mean half, never a sample).
  at::Tensor encode_mean(const at::Tensor& image) const;
  // The same encoding as the whole posterior (training samples from it).
  VaePosterior encode(const at::Tensor& image) const;
  // latents [B, latent, h, w] (already divided by the scale) -> image
  // [B, out, 8h, 8w] in about [-1, 1] (post_quant_conv, then the decoder).
  at::Tensor decode(const at::Tensor& latents) const;

  // The pipeline's reference latents: uint8 [H, W, 3] -> (image / 127.5 - 1)
  // encoded, mean * 0.18215, as [1, latent, H/8, W/8] in the weights' dtype.
  at::Tensor encode_reference(const at::Tensor& image_u8) const;
  // The pipeline's decode_latents: latents [B, latent, F, h, w] -> every frame
  // decode(latents / 0.18215), then (x / 2 + 0.5).clamp(0, 1), returned as
  // float32 [B, out, F, 8h, 8w] (the original casts to float32 too).
  // Frames are decoded `frames_per_batch` at a time only to bound memory; each
  // frame is decoded independently, so the result does not depend on it.
  at::Tensor decode_video(const at::Tensor& latents, int64_t frames_per_batch) const;

  // How many frames of latents [.., h, w] decode_video may decode at once
  // within `budget_bytes` of decoder activations: at least 1, at most 16
  // (larger batches gain nothing and only hold more memory). A frame's peak
  // is about four live copies of the widest full-resolution activation (the
  // last-but-one up block's upsampler output: block_out_channels[1] channels
  // at the output size; measured 63 MB at 128x128 for sd-vae-ft-mse in fp32,
  // autoencoder_kl_test); six are reserved: 1.5 GiB per 512x512 frame.
  int64_t decode_frames_within(int64_t budget_bytes, int64_t h, int64_t w) const;
  static constexpr int64_t kMaxDecodeFrames = 16;

  // The batch the pipeline decodes with: decode_frames_within(budget), except
  // on CPUs whose oneDNN has no AVX-512 kernels (util/cpu_features.h), where
  // one frame per call is faster. Measured on a 2-core AVX2 AMD EPYC (Zen 3),
  // sd-vae-ft-mse, 256x256, fp32: 6.0-6.3 s per frame one at a time against
  // 9.0-10.0 s in batches of 2, 4 or 8 (the 3x3 convolutions of the
  // full-resolution blocks slow down with the batch there); on the AVX-512
  // machine of docs/performance.md batches of 8 ran at 2.2 s per frame.
  int64_t decode_batch(int64_t budget_bytes, int64_t h, int64_t w) const;

  // config.json's scaling_factor (0.18215 when absent).
  double scaling_factor() const { return config_.scaling_factor; }
  const AutoencoderKLConfig& config() const { return config_; }
  const DeviceDtype& options() const { return options_; }
  bool loaded() const { return loaded_; }

  vae::Encoder* encoder;
  nn::Conv2d* quant_conv;
  nn::Conv2d* post_quant_conv;
  vae::Decoder* decoder;

 private:
  void require_loaded() const;
  AutoencoderKLConfig config_;
  DeviceDtype options_;
  bool loaded_ = false;
};

}  // namespace ma
