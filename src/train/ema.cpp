#include "train/ema.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not via ATen.h on 2.x)

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace ma::train {

Ema::Ema(const std::vector<NamedParameter>& params, double decay) : params_(params), decay_(decay) {
  if (!(decay > 0 && decay < 1)) throw Error("--ema-decay must be in (0, 1) (0: no average)");
  at::NoGradGuard no_grad;
  for (const NamedParameter& p : params_) average_.push_back(p.tensor.detach().clone());
}

double Ema::decay_at(int64_t step) const {
  const double t = static_cast<double>(std::max<int64_t>(step, 0));
  return std::min(decay_, (1 + t) / (10 + t));
}

void Ema::update(int64_t step) {
  const double d = decay_at(step);
  at::NoGradGuard no_grad;
  // ema += (1 - d) (weight - ema): one fused op per tensor, and exact at d = 0.
  for (size_t i = 0; i < params_.size(); ++i) average_[i].lerp_(params_[i].tensor.detach(), 1 - d);
}

TensorMap Ema::averaged() const {
  TensorMap out;
  for (size_t i = 0; i < params_.size(); ++i) out[params_[i].name] = average_[i];
  return out;
}

}  // namespace ma::train
