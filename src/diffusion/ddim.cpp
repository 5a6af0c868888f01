#include "diffusion/ddim.h"

#include "util/error.h"

namespace ma {

DdimScheduler::DdimScheduler(const DdimConfig& c)
    : config_(c), schedule_(c.schedule) {}

std::vector<int64_t> DdimScheduler::timesteps(int64_t steps) const {
  if (steps < 1 || steps > schedule_.train_timesteps())
    throw Error("steps must be between 1 and " + std::to_string(schedule_.train_timesteps()));
  const int64_t ratio = schedule_.train_timesteps() / steps;
  std::vector<int64_t> out;
  for (int64_t i = steps - 1; i >= 0; --i) out.push_back(i * ratio + config_.steps_offset);
  return out;
}

at::Tensor DdimScheduler::step(const at::Tensor& eps, int64_t t, const at::Tensor& x, int64_t steps) const {
  const int64_t prev_t = t - schedule_.train_timesteps() / steps;
  // Scalars are taken from the float32 table like the original's tensors.
  const double a_t = schedule_.alpha_cumprod(t);
  const double a_prev =
      prev_t >= 0 ? schedule_.alpha_cumprod(prev_t) : (config_.set_alpha_to_one ? 1.0 : schedule_.alpha_cumprod(0));
  const double beta_t = 1.0 - a_t;
  at::Tensor pred_x0 = (x - std::sqrt(beta_t) * eps) / std::sqrt(a_t);
  return std::sqrt(a_prev) * pred_x0 + std::sqrt(1.0 - a_prev) * eps;
}

}  // namespace ma
