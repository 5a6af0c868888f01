#include "util/bf16.h"

#include "util/cpu_features.h"

#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>

#include <mutex>

namespace ma {
namespace {

// A [32, 512] x [512, 32] bf16 GEMM (above the 16^3 below which ATen never
// calls oneDNN) of ones in the layout of at::mm on
// contiguous operands: 512 with fp32 accumulation, 256 when each partial sum
// is rounded to bf16 (256 + 1 rounds back to 256). Any exception (oneDNN
// refusing bf16 under ONEDNN_MAX_CPU_ISA, say) means "not native".
bool gemm_accumulates_in_fp32() {
  try {
    c10::InferenceMode guard;
    const auto opt = at::TensorOptions().dtype(at::kBFloat16);
    const at::Tensor a = at::ones({32, 512}, opt), b = at::ones({512, 32}, opt);
    return at::mm(a, b).to(at::kFloat).min().item<float>() == 512.0f;
  } catch (...) {
    return false;
  }
}

}  // namespace

bool cpu_has_native_bf16() {
  // ATen's mkldnn_bf16_device_check is the same CPU test; a oneDNN capped
  // below AVX-512 also fails the probe below.
  static const bool features = cpu_has_avx512_core();
  if (!features || !at::globalContext().userEnabledMkldnn()) return false;
  static std::once_flag once;
  static bool probe = false;
  std::call_once(once, [] { probe = gemm_accumulates_in_fp32(); });
  return probe;
}

std::string dtype_speed_warning(at::ScalarType dtype, const at::Device& device) {
  if (dtype != at::kBFloat16 || !device.is_cpu() || cpu_has_native_bf16()) return "";
  return "--dtype bf16: this CPU has no native bf16 kernels in this libtorch (oneDNN's need AVX-512), so matmuls "
         "and convolutions compute in fp32 and bf16 runs slower than fp32 here; it only halves the weights' memory";
}

}  // namespace ma
