// Shared by the fuzz drivers: reads every byte of every tensor a loader
// returned from instrumented code, so ASan sees any tensor that points
// outside its memory (libtorch's own kernels are not instrumented).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "weights/tensor_map.h"

namespace ma::fuzz {

inline void touch_tensors(const TensorMap& tensors) {
  volatile uint8_t sink = 0;
  for (const auto& kv : tensors) {
    const at::Tensor& t = kv.second;
    if (!t.is_contiguous()) __builtin_trap();  // loaders promise contiguous tensors
    const auto* bytes = static_cast<const uint8_t*>(t.data_ptr());
    const size_t n = t.nbytes();
    for (size_t i = 0; i < n; ++i) sink = sink ^ bytes[i];
  }
  (void)sink;
}

}  // namespace ma::fuzz
