// DPM-Solver++ 2M (Lu et al. 2022, arXiv:2211.01095): the second-order
// multistep solver of the diffusion ODE in data-prediction form, as diffusers
// v0.21.4's DPMSolverMultistepScheduler runs it when built with
// DPMSolverMultistepScheduler.from_config() of the DDIM config the original
// pipeline ends up with. That config carries over only the keys the original
// set (beta_start 0.00085, beta_end 0.012, "linear", 1000 training steps:
// the same float32 alphas_cumprod as DDIM); every other key is the solver's
// default: solver_order 2, algorithm_type "dpmsolver++", solver_type
// "midpoint", prediction_type "epsilon", lower_order_final true,
// use_karras_sigmas false, thresholding false, lambda_min_clipped -inf,
// timestep_spacing "linspace" (DDIM's "leading" and steps_offset are DDIM
// defaults, which from_config does not carry over). Hence:
//   - timesteps: round(linspace(0, 999, n + 1)) reversed, without its last
//     entry (0), duplicates dropped: 25 steps give 999, 959, ..., 40; 1000
//     steps give 999 timesteps (two round to the same one);
//   - each step turns the noise prediction into x0 = (x - sigma_s eps) / alpha_s
//     and moves to the next timestep (0 after the last one) with the
//     first-order update (DDIM in lambda = log(alpha / sigma)) on the first
//     step and, in runs of fewer than 15 steps, on the last one; every other
//     step uses the second-order midpoint update on this and the previous x0.
// Scalars are float32 0-dim tensors combined in diffusers' order, so a step is
// the same float32 arithmetic as diffusers' (tests/unit/dpm_solver_test.cpp).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "diffusion/noise_schedule.h"
#include "diffusion/sampler.h"

namespace ma {

struct DpmSolverConfig {
  NoiseScheduleConfig schedule;  // the betas (diffusion/noise_schedule.h)
  bool lower_order_final = true;  // first-order last step in runs of < 15 steps
};

class DpmSolverPP2M final : public Sampler {
 public:
  // Throws ma::Error unless 1 <= steps <= the training steps.
  explicit DpmSolverPP2M(int64_t steps, const DpmSolverConfig& config = {});

  // diffusers' "linspace" timesteps of an n-step run (see above).
  static std::vector<int64_t> linspace_timesteps(int64_t steps, int64_t train_timesteps);

  const std::vector<int64_t>& timesteps() const override { return timesteps_; }
  at::Tensor step(size_t i, const at::Tensor& noise_pred, const at::Tensor& sample) override;
  // The order of step i's update: 1 or 2.
  int order(size_t i) const;

  // float32 [train_timesteps]: sqrt(a_t), sqrt(1 - a_t), log(alpha_t) - log(sigma_t).
  const at::Tensor& alpha_t() const { return alpha_; }
  const at::Tensor& sigma_t() const { return sigma_; }
  const at::Tensor& lambda_t() const { return lambda_; }

 private:
  DpmSolverConfig config_;
  at::Tensor alpha_, sigma_, lambda_;
  std::vector<int64_t> timesteps_;
  at::Tensor previous_x0_;  // the data prediction of the step before
  size_t next_ = 0;         // the step step() expects next
};

}  // namespace ma
