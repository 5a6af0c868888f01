#include "train/optimizer.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::AutoGradMode (not via ATen.h on 2.x)
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "nn/module.h"
#include "util/error.h"

namespace ma::train {
namespace {

// AdamW keys its per-parameter state by the tensor's address: a string in
// libtorch 1.x (c10::guts::to_string of the pointer: operator<< on it, which
// 2.x no longer has), the pointer itself in 2.x.
template <class Map>
typename Map::key_type state_key(const Map&, const at::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream key;
    key << static_cast<const void*>(p.unsafeGetTensorImpl());
    return key.str();
  } else
    return p.unsafeGetTensorImpl();
}

}  // namespace

Optimizer::Optimizer(std::vector<NamedParameter> params, const OptimizerOptions& options)
    : params_(std::move(params)), options_(options) {
  if (params_.empty()) throw Error("nothing to train: no trainable parameters");
  if (!(options.lr > 0) || !std::isfinite(options.lr)) throw Error("--lr must be a positive number");
  if (options.warmup < 0) throw Error("--warmup must be >= 0");
  if (!(options.weight_decay >= 0)) throw Error("--weight-decay must be >= 0");
  std::vector<at::Tensor> tensors;
  for (const auto& p : params_) {
    if (!p.tensor.requires_grad()) throw Error("parameter " + p.name + " does not require a gradient");
    tensors.push_back(p.tensor);
  }
  auto o = torch::optim::AdamWOptions(options.lr).betas({0.9, 0.999}).eps(1e-8).weight_decay(options.weight_decay);
  adamw_ = std::make_unique<torch::optim::AdamW>(tensors, o);
}

Optimizer::~Optimizer() = default;

double Optimizer::lr_at(int64_t step) const {
  if (options_.warmup > 0 && step < options_.warmup)
    return options_.lr * static_cast<double>(step + 1) / static_cast<double>(options_.warmup);
  if (options_.cosine && options_.total_steps > options_.warmup) {
    const double s = std::min(1.0, static_cast<double>(step - options_.warmup) /
                                       static_cast<double>(options_.total_steps - options_.warmup));
    return options_.lr * 0.5 * (1 + std::cos(M_PI * s));
  }
  return options_.lr;
}

double Optimizer::grad_norm() const {
  double sum = 0;
  for (const auto& p : params_)
    if (p.tensor.grad().defined()) sum += p.tensor.grad().to(at::kDouble).pow(2).sum().item<double>();
  return std::sqrt(sum);
}

double Optimizer::step(int64_t step) {
  const double norm = grad_norm();
  if (!std::isfinite(norm)) throw Error("gradient norm is " + std::to_string(norm) + " at step " + std::to_string(step + 1));
  // torch.nn.utils.clip_grad_norm_'s rule.
  const double scale = options_.clip_grad / (norm + 1e-6);
  if (options_.clip_grad > 0 && scale < 1.0) {
    at::NoGradGuard no_grad;
    for (auto& p : params_)
      if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(scale);
  }
  for (auto& group : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr_at(step));
  adamw_->step();
  zero_grad();
  return norm;
}

void Optimizer::zero_grad() {
  for (auto& p : params_)
    if (p.tensor.grad().defined()) p.tensor.mutable_grad() = at::Tensor();
}

TensorMap Optimizer::state() const {
  TensorMap out;
  const auto& st = adamw_->state();
  for (const auto& p : params_) {
    auto it = st.find(state_key(st, p.tensor));
    if (it == st.end()) continue;  // no step taken yet
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    out["exp_avg." + p.name] = s.exp_avg().clone();
    out["exp_avg_sq." + p.name] = s.exp_avg_sq().clone();
    out["step." + p.name] = at::scalar_tensor(s.step(), at::kLong);
  }
  return out;
}

void Optimizer::load_state(const TensorMap& state) {
  auto& st = adamw_->state();
  st.clear();
  for (const auto& p : params_) {
    auto get = [&](const std::string& what) {
      auto it = state.find(what + "." + p.name);
      if (it == state.end()) throw Error("optimiser state has no " + what + " for " + p.name);
      return it->second;
    };
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(get("step").item<int64_t>());
    at::Tensor m = get("exp_avg"), v = get("exp_avg_sq");
    if (!m.sizes().equals(p.tensor.sizes()) || !v.sizes().equals(p.tensor.sizes()))
      throw Error("optimiser state for " + p.name + " is " + nn::shape_str(m.sizes()) + ", the parameter " +
                  nn::shape_str(p.tensor.sizes()));
    s->exp_avg(m.to(p.tensor.options()).clone());
    s->exp_avg_sq(v.to(p.tensor.options()).clone());
    st[state_key(st, p.tensor)] = std::move(s);
  }
}

}  // namespace ma::train
