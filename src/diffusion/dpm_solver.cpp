#include "diffusion/dpm_solver.h"

#include <cmath>

#include "util/error.h"

namespace ma {

namespace {

// A step count outside 1..train_timesteps, worded once for the solver.
void check_steps(int64_t steps, int64_t train_timesteps) {
  if (steps < 1 || steps > train_timesteps)
    throw Error("steps must be between 1 and " + std::to_string(train_timesteps) + ", got " + std::to_string(steps));
}

}  // namespace

std::vector<int64_t> DpmSolverPP2M::linspace_timesteps(int64_t steps, int64_t train_timesteps) {
  check_steps(steps, train_timesteps);
  // numpy's linspace(0, T - 1, n + 1): k * ((T - 1) / n) in double, the last
  // entry exactly T - 1; then numpy's round (half to even, as std::nearbyint
  // in the default rounding mode), noisiest first, the final 0 dropped.
  const double stop = static_cast<double>(train_timesteps - 1);
  const double delta = stop / static_cast<double>(steps);
  std::vector<int64_t> out;
  for (int64_t k = steps; k >= 1; --k) {
    const double v = k == steps ? stop : static_cast<double>(k) * delta;
    const auto t = static_cast<int64_t>(std::nearbyint(v));
    // Duplicates (only where a step is shorter than 1) keep their first occurrence.
    if (out.empty() || out.back() != t) out.push_back(t);
  }
  return out;
}

DpmSolverPP2M::DpmSolverPP2M(int64_t steps, const DpmSolverConfig& config) : config_(config) {
  const NoiseSchedule schedule(config.schedule);
  timesteps_ = linspace_timesteps(steps, schedule.train_timesteps());
  const at::Tensor& a = schedule.alphas_cumprod();  // float32
  alpha_ = a.sqrt();
  sigma_ = (1 - a).sqrt();
  lambda_ = alpha_.log() - sigma_.log();
}

int DpmSolverPP2M::order(size_t i) const {
  const size_t n = timesteps_.size();
  if (i == 0) return 1;  // no earlier data prediction yet
  if (config_.lower_order_final && i + 1 == n && n < 15) return 1;
  return 2;
}

at::Tensor DpmSolverPP2M::step(size_t i, const at::Tensor& eps, const at::Tensor& x) {
  if (i != next_ || i >= timesteps_.size())
    throw Error("DPM-Solver++: step " + std::to_string(i) + " out of order (expected step " + std::to_string(next_) +
                " of " + std::to_string(timesteps_.size()) + ")");
  const int64_t s0 = timesteps_[i];
  const int64_t t = i + 1 < timesteps_.size() ? timesteps_[i + 1] : 0;
  // The data prediction (DPM-Solver++ integrates x0, not eps).
  const at::Tensor x0 = (x - sigma_[s0] * eps) / alpha_[s0];
  const at::Tensor h = lambda_[t] - lambda_[s0];
  const at::Tensor decay = alpha_[t] * (at::exp(-h) - 1.0);  // alpha_t (e^-h - 1)
  at::Tensor out;
  if (order(i) == 1) {
    out = (sigma_[t] / sigma_[s0]) * x - decay * x0;
  } else {
    // Midpoint form: D1 = (x0 - x0_prev) / r0 with r0 = h_prev / h.
    const int64_t s1 = timesteps_[i - 1];
    const at::Tensor r0 = (lambda_[s0] - lambda_[s1]) / h;
    const at::Tensor d1 = r0.reciprocal() * (x0 - previous_x0_);
    out = (sigma_[t] / sigma_[s0]) * x - decay * x0 - (0.5 * decay) * d1;
  }
  previous_x0_ = x0;
  ++next_;
  return out;
}

}  // namespace ma
