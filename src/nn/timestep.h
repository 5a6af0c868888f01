// Sinusoidal timestep features and the two-layer MLP that turns them into the
// time embedding every ResNet block receives (diffusers Timesteps +
// TimestepEmbedding: linear_1, SiLU, linear_2).
#pragma once
#include "nn/layers.h"

namespace ma::nn {

// timesteps: [B] (any numeric dtype) -> float32 [B, dim]. With
// flip_sin_to_cos the cosine half comes first, as SD 1.5 configures it.
at::Tensor timestep_features(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift);

class TimestepEmbedding : public Module {
 public:
  TimestepEmbedding(int64_t in_channels, int64_t time_embed_dim);
  at::Tensor forward(const at::Tensor& features) const;
  Linear* linear_1;
  Linear* linear_2;
};

}  // namespace ma::nn
