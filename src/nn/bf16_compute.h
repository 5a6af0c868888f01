// Where this CPU has no native bf16 kernels (util/bf16.h), the layers run
// their matmuls and convolutions on fp32 copies of bf16 operands and round
// the result back: fp32 accumulation as oneDNN does it, and fp32 kernels
// instead of ATen's 10-30x slower reference loops. Weights stay bf16 in
// memory (converted per call), so --dtype bf16 still halves their size.
#pragma once
#include <ATen/ATen.h>

#include "util/bf16.h"

namespace ma::nn {

// True for a bf16 CPU tensor on a CPU without native bf16.
inline bool compute_in_fp32(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 && x.device().is_cpu() && !cpu_has_native_bf16();
}

// True for a bf16 or fp16 CPU tensor: libtorch's CPU kernels for some
// element-wise ops and norms are much slower in these types than in fp32
// (nn/layers.cpp's norms, GEGLU's gate in nn/attention.cpp).
inline bool reduced_precision_cpu(const at::Tensor& x) {
  const auto t = x.scalar_type();
  return (t == at::kBFloat16 || t == at::kHalf) && x.device().is_cpu();
}

// `t` in fp32 (an undefined tensor stays undefined).
inline at::Tensor fp32(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; }

}  // namespace ma::nn
