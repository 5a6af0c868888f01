// Whether bfloat16 arithmetic is "native" here: libtorch 1.13 sends bf16
// matmul and convolution to oneDNN only on CPUs with AVX-512 BW/VL/DQ (ATen's
// mkldnn_bf16_device_check); elsewhere (e.g. AVX2-only AMD Zen 3) they fall
// back to ATen's reference loops, which are 10-30x slower than fp32 and, for
// the untransposed GEMM behind at::mm/bmm and the convolution, accumulate in
// bf16 itself (a 512-term sum of ones gives 256). The engine's layers
// (src/nn/bf16_compute.h) then compute those ops in fp32 and round the result
// to bf16, as oneDNN does.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace ma {

// True when bf16 matmul/convolution on the CPU run in kernels that accumulate
// in fp32 at speed: the CPU has AVX-512 BW/VL/DQ (x86; other architectures:
// assumed), oneDNN is enabled (at::globalContext().userEnabledMkldnn()), and a
// one-off probe (a bf16 GEMM of 512 ones, in a try block so that a oneDNN
// limited below AVX-512 by ONEDNN_MAX_CPU_ISA counts as "no") returns 512.
// The CPU check and the probe run once; the oneDNN switch is read every call.
bool cpu_has_native_bf16();

// One warning line for --dtype `dtype` on `device` when it is expected to be
// slower than fp32 there (bf16 on a CPU without native bf16: it then only
// halves the weights' memory), else "".
std::string dtype_speed_warning(at::ScalarType dtype, const at::Device& device);

}  // namespace ma
