#include "nn/timestep.h"

#include <cmath>

namespace ma::nn {

at::Tensor timestep_features(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift) {
  const int64_t half = dim / 2;
  auto f32 = timesteps.options().dtype(at::kFloat);
  at::Tensor exponent = at::arange(half, f32) * (-std::log(10000.0) / (static_cast<double>(half) - freq_shift));
  at::Tensor args = timesteps.to(at::kFloat).unsqueeze(1) * exponent.exp().unsqueeze(0);
  at::Tensor emb = flip_sin_to_cos ? at::cat({args.cos(), args.sin()}, 1) : at::cat({args.sin(), args.cos()}, 1);
  if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1}, 0);
  return emb;
}

TimestepEmbedding::TimestepEmbedding(int64_t in, int64_t dim) {
  linear_1 = register_module("linear_1", std::make_unique<Linear>(in, dim));
  linear_2 = register_module("linear_2", std::make_unique<Linear>(dim, dim));
}

at::Tensor TimestepEmbedding::forward(const at::Tensor& features) const {
  return linear_2->forward(at::silu(linear_1->forward(features)));
}

}  // namespace ma::nn
