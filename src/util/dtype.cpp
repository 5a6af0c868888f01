#include "util/dtype.h"

#include <map>
#include <mutex>
#include <utility>

#include "util/bf16.h"
#include "util/error.h"

namespace ma {

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  if (name == "fp16" || name == "float16") return at::kHalf;
  throw Error("unknown dtype '" + name + "' (use fp32, bf16 or fp16)");
}

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "fp32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return at::toString(dtype);
  }
}

namespace {

// Runs the operation kinds the engine needs; returns "" or the first failure.
std::string probe(at::ScalarType dtype, const at::Device& device) {
  const auto opt = at::TensorOptions().dtype(dtype).device(device);
  // Without native bf16 the layers run matmul and convolution in fp32
  // (util/bf16.h), so those bf16 kernels are not needed (and oneDNN capped by
  // ONEDNN_MAX_CPU_ISA throws on them).
  const bool gemms_in_dtype = !(dtype == at::kBFloat16 && device.is_cpu() && !cpu_has_native_bf16());
  const char* step = "matmul";
  try {
    at::Tensor a = at::ones({4, 8}, opt), b = at::ones({8, 4}, opt);
    at::Tensor x = at::ones({1, 4, 6, 6}, opt);
    if (gemms_in_dtype) {
      (void)at::mm(a, b);
      (void)at::linear(a, b.t(), at::ones({8}, opt).slice(0, 0, 4));
      step = "batched matmul";
      (void)at::bmm(a.unsqueeze(0), b.unsqueeze(0));
      step = "convolution";
      (void)at::conv2d(x, at::ones({4, 4, 3, 3}, opt), at::ones({4}, opt), {1, 1}, {1, 1});
    }
    step = "group norm";
    (void)at::group_norm(x, 2, at::ones({4}, opt), at::zeros({4}, opt), 1e-5);
    step = "layer norm";
    (void)at::layer_norm(a, {8}, at::ones({8}, opt), at::zeros({8}, opt), 1e-5);
    step = "softmax";
    (void)a.softmax(-1);
    step = "gelu";
    (void)at::gelu(a);
    step = "upsampling";
    (void)at::upsample_nearest2d(x, {12, 12});
    return "";
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    const size_t eol = what.find('\n');
    if (eol != std::string::npos) what.resize(eol);
    return std::string(step) + ": " + what;
  } catch (const std::exception& e) {  // oneDNN's own dnnl::error, say
    return std::string(step) + ": " + e.what();
  }
}

}  // namespace

void require_dtype_supported(at::ScalarType dtype, const at::Device& device) {
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf)
    throw Error("unsupported engine dtype " + std::string(at::toString(dtype)) + " (use fp32, bf16 or fp16)");
  if (dtype == at::kFloat) return;
  static std::mutex mutex;
  static std::map<std::pair<int, std::string>, std::string> known;
  std::string failure;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto key = std::make_pair(static_cast<int>(dtype), device.str());
    auto it = known.find(key);
    if (it == known.end()) it = known.emplace(key, probe(dtype, device)).first;
    failure = it->second;
  }
  if (!failure.empty())
    throw Error("--dtype " + dtype_name(dtype) + " is not supported on " + device.str() + " by this libtorch " +
                "(its " + failure + "); use --dtype fp32" + (dtype == at::kHalf ? " or bf16" : ""));
}

}  // namespace ma
