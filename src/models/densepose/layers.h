// detectron2's leaf layers, named like its modules so parameter keys match
// the zoo .pkl: Conv2d with an optional `.norm` child, FrozenBatchNorm2d,
// ConvTranspose2d, and a container whose children have given names (for
// nn.Sequential slots such as "p4.2" or "ASPP.convs.4.1").
#pragma once
#include <memory>
#include <string>

#include "nn/layers.h"
#include "nn/module.h"

namespace ma::densepose {

// Batch norm with fixed statistics: y = x * w / sqrt(var + eps) + (b - mean * w / sqrt(var + eps)),
// computed in detectron2's order so results match to the last bit.
class FrozenBatchNorm2d : public nn::Module {
 public:
  explicit FrozenBatchNorm2d(int64_t channels, double eps = 1e-5);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias, running_mean, running_var;
  double eps;
};

enum class Norm { None, FrozenBN, GN };

// detectron2.layers.Conv2d: conv (bias only without a norm, unless told),
// then the norm child "norm" (FrozenBN / GroupNorm(32)).
class Conv : public nn::Module {
 public:
  struct Options {
    int64_t stride = 1, padding = 0, dilation = 1;
    bool bias = false;
    Norm norm = Norm::None;
  };
  Conv(int64_t in, int64_t out, int64_t kernel, Options o);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  Options opt;
  FrozenBatchNorm2d* frozen_bn = nullptr;
  nn::GroupNorm* group_norm = nullptr;
};

// torch.nn.ConvTranspose2d; weight [in, out, k, k].
class ConvTranspose2d : public nn::Module {
 public:
  ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias;
  int64_t stride, padding;
};

// A module whose children are registered under explicit names.
class Named : public nn::Module {
 public:
  template <class M>
  M* add(const std::string& name, std::unique_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

// Bilinear x2 (align_corners=False), as nn.Upsample(scale_factor=2) and
// detectron2's interpolate(scale_factor=2) call it.
at::Tensor upsample2x(const at::Tensor& x);

}  // namespace ma::densepose
