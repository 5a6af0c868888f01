#include "train/vae_objective.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not via ATen.h on 2.x)

#include <cmath>

#include "util/error.h"

namespace ma::train {

VaeLoss vae_loss(const AutoencoderKL& vae, const at::Tensor& images, const at::Tensor& noise, double kl_weight) {
  const VaePosterior q = vae.encode(images);
  const at::Tensor z = q.mean + q.stddev() * noise.to(q.mean.scalar_type());
  const at::Tensor rebuilt = vae.decode(z).to(at::kFloat);
  const at::Tensor rec = (images.to(at::kFloat) - rebuilt).abs().mean();
  const at::Tensor mean = q.mean.to(at::kFloat), logvar = q.logvar.to(at::kFloat);
  // KL(N(mu, sigma^2) || N(0, 1)) per element, summed per sample, batch mean.
  const at::Tensor kl = (0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar)).flatten(1).sum(1).mean();
  const double pixels = static_cast<double>(images[0].numel());
  VaeLoss out;
  out.total = rec + (kl_weight / pixels) * kl;
  out.reconstruction = rec.item<double>();
  out.kl = kl.item<double>();
  return out;
}

double latent_std(const AutoencoderKL& vae, const at::Tensor& images) {
  at::NoGradGuard frozen;
  return vae.encode_mean(images).to(at::kFloat).std().item<double>();
}

TensorMap calibrated_vae_weights(const AutoencoderKL& vae, double std, double latent_scale) {
  if (!(std > 0) || !std::isfinite(std)) throw Error("VAE calibration: the latents' standard deviation is " + std::to_string(std));
  at::NoGradGuard frozen;
  TensorMap out;
  for (const nn::ParamInfo& p : vae.state_entries()) out[p.name] = p.slot->detach().clone();
  const double s = 1.0 / (latent_scale * std);
  const int64_t c = vae.config().latent_channels;
  // quant_conv: 2c outputs, [mean; logvar]. z' = s z: mean rows x s, var x s^2.
  out["quant_conv.weight"].slice(0, 0, c).mul_(s);
  out["quant_conv.bias"].slice(0, 0, c).mul_(s);
  out["quant_conv.bias"].slice(0, c, 2 * c).add_(2 * std::log(s));
  // post_quant_conv reads z = z' / s.
  out["post_quant_conv.weight"].div_(s);
  return out;
}

}  // namespace ma::train
