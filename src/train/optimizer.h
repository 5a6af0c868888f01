// The trainer's optimiser: torch::optim::AdamW (betas 0.9 / 0.999, eps 1e-8)
// over exactly the trainable parameters, a linear warmup then a constant
// learning rate, and clipping by the global gradient norm. Its state (the
// moments and step of every parameter) is exported by parameter name, so a
// checkpoint does not depend on tensor addresses.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "weights/tensor_map.h"

namespace torch::optim {
class AdamW;
}

namespace ma::train {

struct NamedParameter {
  std::string name;   // "<part>.<checkpoint key>", e.g. "controlnet.conv_in.weight"
  at::Tensor tensor;  // the module's own slot tensor (requires_grad)
};

struct OptimizerOptions {
  double lr = 1e-5;
  int64_t warmup = 0;          // optimiser steps of linear warmup
  double weight_decay = 0.01;
  double clip_grad = 1.0;      // max global norm; <= 0: no clipping
  // After the warmup: constant, or a cosine from lr down to 0 at step
  // total_steps (the run's --steps; a resumed run with more steps follows the
  // longer curve from where it is).
  bool cosine = false;
  int64_t total_steps = 0;
};

class Optimizer {
 public:
  Optimizer(std::vector<NamedParameter> params, const OptimizerOptions& options);
  ~Optimizer();

  // The learning rate of optimiser step `step` (0-based): lr * (step+1)/warmup
  // during the warmup, then lr, or with `cosine` lr * (1 + cos(pi * s)) / 2
  // where s = (step - warmup) / (total_steps - warmup) runs from 0 to 1.
  double lr_at(int64_t step) const;

  // Clips the accumulated gradients, applies update `step` (0-based) and
  // zeroes the gradients. Returns the global gradient norm before clipping.
  double step(int64_t step);

  // Global L2 norm of the current gradients (missing gradients count as zero).
  double grad_norm() const;

  void zero_grad();

  // "exp_avg.<name>", "exp_avg_sq.<name>", "step.<name>" (int64 scalar).
  TensorMap state() const;
  // Restores state() (saved after at least one update); every parameter's
  // entries must be present and shaped like it (ma::Error naming the first
  // that is not).
  void load_state(const TensorMap& state);

  const std::vector<NamedParameter>& parameters() const { return params_; }

 private:
  std::vector<NamedParameter> params_;
  OptimizerOptions options_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

}  // namespace ma::train
