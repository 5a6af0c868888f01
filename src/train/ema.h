// An exponential moving average of the trainable weights, as diffusion
// training keeps one (diffusers' EMAModel, DDPM, LDM): after optimiser step
// t (0-based) every averaged tensor becomes
//   ema = d_t * ema + (1 - d_t) * weight,   d_t = min(decay, (1 + t) / (10 + t)),
// EMAModel's warm-up, so that the first steps' random weights fade fast. A
// short run at a constant learning rate leaves its weights jittering around
// the minimum; their average samples better than the last step (checked on
// the demo model, docs/demo-model.md). The trainer publishes the average in
// its checkpoints and keeps the raw weights for --resume (trainer.cpp).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "train/optimizer.h"
#include "weights/tensor_map.h"

namespace ma::train {

class Ema {
 public:
  // Starts the average at the parameters' current values (a resumed run's
  // are the checkpoint's published ones: its average). decay in (0, 1).
  Ema(const std::vector<NamedParameter>& params, double decay);

  double decay_at(int64_t step) const;  // d_t above
  void update(int64_t step);            // after optimiser step `step` (0-based)

  // The average by parameter name ("<part>.<key>", as the optimiser's).
  TensorMap averaged() const;

 private:
  std::vector<NamedParameter> params_;  // the live weights (the optimiser's tensors)
  std::vector<at::Tensor> average_;
  double decay_;
};

}  // namespace ma::train
