// `train --stage vae`: the KL-VAE's own objective (Rombach et al. 2022,
// "LDM", autoencoder training without its perceptual and adversarial terms):
//   L = mean |x - D(z)| + kl_weight * KL(q(z|x) || N(0, I)) / (pixels per sample),
//   z = mean + stddev * eps drawn from the encoder's posterior.
// With the KL summed over a sample's latent elements and divided by its pixel
// count, kl_weight is LDM's (1e-6 for the kl-f8 model SD uses) and L is LDM's
// L1 objective divided by the pixel count. The weak KL leaves the latents'
// scale free; calibrated_vae_weights() then rescales them to the one scale
// MagicAnimate's pipeline assumes.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "models/autoencoder_kl.h"
#include "weights/tensor_map.h"

namespace ma::train {

constexpr double kDefaultKlWeight = 1e-6;

struct VaeLoss {
  at::Tensor total;           // float32 scalar with its graph
  double reconstruction = 0;  // mean |x - x_hat|
  double kl = 0;              // KL per sample (summed over its latent elements), batch mean
};

// images [B, 3, H, W] in [-1, 1]; noise [B, latent, H/8, W/8] (eps of each sample).
VaeLoss vae_loss(const AutoencoderKL& vae, const at::Tensor& images, const at::Tensor& noise, double kl_weight);

// The standard deviation of the posterior means of `images` [N, 3, H, W] (one
// number over every latent element), computed without gradients.
double latent_std(const AutoencoderKL& vae, const at::Tensor& images);

// The VAE's weights rescaled so that its latents times `latent_scale`
// (0.18215, what MagicAnimate multiplies with) have unit standard deviation,
// as SD's do: with s = 1 / (latent_scale * std), quant_conv's mean rows are
// multiplied by s, its log-variance biases shifted by 2 ln s, and
// post_quant_conv's input columns divided by s. Decoding a (scaled) mean gives
// the same image as before: only the latent coordinates change.
TensorMap calibrated_vae_weights(const AutoencoderKL& vae, double std, double latent_scale);

}  // namespace ma::train
