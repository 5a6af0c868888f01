// The engine's compute precision as the programs spell it (--dtype).
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace ma {

// "fp32" | "bf16" | "fp16" (also "float32", "bfloat16", "float16") -> the
// scalar type; anything else throws ma::Error naming the accepted values.
at::ScalarType parse_dtype(const std::string& name);

// The inverse: "fp32", "bf16", "fp16" (at::toString for anything else).
std::string dtype_name(at::ScalarType dtype);

// Throws ma::Error, one line, when this libtorch cannot run the engine's
// operations (matmul, convolution, group/layer norm, softmax) in `dtype` on
// `device` — e.g. float16 on the CPU of libtorch 1.13, whose CPU matmul and
// convolution kernels lack Half. Probes once per (dtype, device) with tiny
// tensors.
void require_dtype_supported(at::ScalarType dtype, const at::Device& device);

}  // namespace ma
