#include "util/device.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <cctype>

#include "util/error.h"

namespace ma {
namespace {

// CUDA availability through the hooks every libtorch build carries (a CPU
// build answers "none" instead of failing to link).
void require_cuda_device(const std::string& name, int64_t index) {
  const std::string what = "--device " + name + ": ";
  if (!at::hasCUDA()) {
    if (!at::detail::getCUDAHooks().hasCUDART())
      throw Error(what + "this build of magicanimate has no CUDA support (libtorch CPU build)");
    throw Error(what + "no CUDA GPU is available on this machine");
  }
  const int64_t count = at::detail::getCUDAHooks().getNumGPUs();
  if (index >= count)
    throw Error(what + "no such GPU (this machine has " + std::to_string(count) + " CUDA device" +
                (count == 1 ? "" : "s") + ": cuda:0" + (count > 1 ? "..cuda:" + std::to_string(count - 1) : "") + ")");
}

}  // namespace

at::Device parse_device(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  int64_t index = -1;
  if (name == "cuda") {
    index = 0;
  } else if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() <= 8) {
    index = 0;
    for (size_t i = 5; i < name.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(name[i]))) {
        index = -1;
        break;
      }
      index = index * 10 + (name[i] - '0');
    }
  }
  if (index < 0) throw Error("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
  require_cuda_device(name, index);
  return at::Device(at::kCUDA, static_cast<at::DeviceIndex>(index));
}

}  // namespace ma
