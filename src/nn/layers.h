// The leaf layers, named like their torch.nn counterparts so parameter keys
// match checkpoints ("weight", "bias").
#pragma once
#include "nn/module.h"

namespace ma::nn {

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  int64_t in_features, out_features;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0, bool bias = true);
  // x: [N, C, H, W]
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  int64_t in_channels, out_channels, kernel, stride, padding;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps);
  // Normalises over (C/groups, *spatial) per sample: pass [N, C, F, H, W] to
  // span frames (the 3D ResNet), [N, C, H, W] for per-image statistics.
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  int64_t groups, channels;
  double eps;
};

class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, double eps = 1e-5);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  int64_t dim;
  double eps;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim);
  at::Tensor forward(const at::Tensor& ids) const;
  at::Tensor weight;
};

}  // namespace ma::nn
