// DDIM sampling exactly as the original ends up configuring diffusers'
// DDIMScheduler: 1000 training steps, linear betas 0.00085 -> 0.012 (float32),
// set_alpha_to_one, "leading" spacing with steps_offset = 1 (the pipeline's
// legacy-config fix-up rewrites it), eta = 0, no sample clipping.
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace ma {

struct DdimConfig {
  int64_t train_timesteps = 1000;
  double beta_start = 0.00085, beta_end = 0.012;
  bool scaled_linear = false;  // beta_schedule "scaled_linear" instead of "linear"
  int64_t steps_offset = 1;
  bool set_alpha_to_one = true;
};

class DdimScheduler {
 public:
  explicit DdimScheduler(const DdimConfig& config = {});
  // Timesteps of an n-step run, noisiest first (3 steps: 667, 334, 1).
  std::vector<int64_t> timesteps(int64_t steps) const;
  // x_t -> x_{t-1} given the guided noise prediction (eta = 0).
  at::Tensor step(const at::Tensor& noise_pred, int64_t timestep, const at::Tensor& sample, int64_t steps) const;

 private:
  DdimConfig config_;
  at::Tensor alphas_cumprod_;  // float32 [train_timesteps]
};

}  // namespace ma
