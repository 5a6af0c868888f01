#include "diffusion/noise_schedule.h"

#include <cmath>

#include "util/error.h"

namespace ma {

NoiseSchedule::NoiseSchedule(const NoiseScheduleConfig& c) : config_(c) {
  if (c.train_timesteps < 1) throw Error("noise schedule: train_timesteps must be >= 1");
  at::Tensor betas;
  if (c.scaled_linear)
    betas = at::linspace(std::sqrt(c.beta_start), std::sqrt(c.beta_end), c.train_timesteps, at::kFloat).pow(2);
  else
    betas = at::linspace(c.beta_start, c.beta_end, c.train_timesteps, at::kFloat);
  alphas_cumprod_ = at::cumprod(1.0 - betas, 0);
}

double NoiseSchedule::alpha_cumprod(int64_t t) const { return alphas_cumprod_[t].item<float>(); }

std::pair<at::Tensor, at::Tensor> NoiseSchedule::coefficients(const at::Tensor& like, const at::Tensor& t) const {
  at::Tensor steps = t.reshape({-1}).to(at::kLong);
  if (steps.size(0) != 1 && steps.size(0) != like.size(0))
    throw Error("noise schedule: " + std::to_string(steps.size(0)) + " timesteps for a batch of " +
                std::to_string(like.size(0)));
  if (steps.numel() > 0 && (steps.min().item<int64_t>() < 0 || steps.max().item<int64_t>() >= train_timesteps()))
    throw Error("noise schedule: timesteps must be in [0, " + std::to_string(train_timesteps()) + ")");
  at::Tensor a = alphas_cumprod_.to(like.device(), like.scalar_type()).index_select(0, steps.to(like.device()));
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = a.size(0);
  return {a.sqrt().reshape(shape), (1 - a).sqrt().reshape(shape)};
}

at::Tensor NoiseSchedule::add_noise(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t) const {
  auto [signal, sigma] = coefficients(x0, t);
  return signal * x0 + sigma * noise;
}

at::Tensor NoiseSchedule::velocity(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t) const {
  auto [signal, sigma] = coefficients(x0, t);
  return signal * noise - sigma * x0;
}

}  // namespace ma
