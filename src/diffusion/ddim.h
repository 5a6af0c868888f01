// DDIM sampling exactly as the original ends up configuring diffusers'
// DDIMScheduler: 1000 training steps, linear betas 0.00085 -> 0.012 (float32),
// set_alpha_to_one, "leading" spacing with steps_offset = 1 (the pipeline's
// legacy-config fix-up rewrites it), eta = 0, no sample clipping.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "diffusion/noise_schedule.h"

namespace ma {

struct DdimConfig {
  NoiseScheduleConfig schedule;  // the betas (diffusion/noise_schedule.h)
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
  const NoiseSchedule& schedule() const { return schedule_; }

 private:
  DdimConfig config_;
  NoiseSchedule schedule_;
};

}  // namespace ma
