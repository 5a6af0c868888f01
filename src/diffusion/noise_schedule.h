// The forward (noising) process of DDPM-style diffusion, shared by the
// samplers and the trainer: the beta schedule, its cumulative alphas, and the
// training targets. Defaults are MagicAnimate's released scheduler config
// (1000 steps, linear betas 0.00085 -> 0.012, float32 like diffusers).
#pragma once
#include <ATen/ATen.h>

#include <utility>

namespace ma {

struct NoiseScheduleConfig {
  int64_t train_timesteps = 1000;
  double beta_start = 0.00085, beta_end = 0.012;
  bool scaled_linear = false;  // beta_schedule "scaled_linear" instead of "linear"
};

class NoiseSchedule {
 public:
  explicit NoiseSchedule(const NoiseScheduleConfig& config = {});

  const NoiseScheduleConfig& config() const { return config_; }
  int64_t train_timesteps() const { return config_.train_timesteps; }
  // float32 [train_timesteps] on the CPU: prod_{s <= t} (1 - beta_s).
  const at::Tensor& alphas_cumprod() const { return alphas_cumprod_; }
  // One entry as the sampler reads it (the float32 value, widened).
  double alpha_cumprod(int64_t t) const;

  // sqrt(a_t) x0 + sqrt(1 - a_t) noise, with t int64 [B] (one per sample,
  // broadcast over x0's other dims) or a scalar; computed in x0's dtype and
  // device as diffusers' add_noise.
  at::Tensor add_noise(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t) const;
  // The v-prediction target sqrt(a_t) noise - sqrt(1 - a_t) x0 (diffusers' get_velocity).
  at::Tensor velocity(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t) const;

 private:
  // sqrt(a_t) and sqrt(1 - a_t), shaped [B, 1, ...] to broadcast over `like`.
  std::pair<at::Tensor, at::Tensor> coefficients(const at::Tensor& like, const at::Tensor& t) const;
  NoiseScheduleConfig config_;
  at::Tensor alphas_cumprod_;
};

}  // namespace ma
