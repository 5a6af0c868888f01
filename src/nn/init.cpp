#include "nn/init.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <random>

namespace ma::nn {

TensorMap random_state(const nn::Module& m, const DeviceDtype& opt, uint64_t seed) {
  // Drawing ~1.3 G normal numbers one by one takes minutes on a small
  // machine: draw a pool of at most 16 M once and give every tensor a copy of
  // a stretch of it from a seeded random offset (wrapping around). Timings do
  // not care that values repeat across tensors.
  const auto params = m.state_entries();
  int64_t total = 0;
  for (const nn::ParamInfo& p : params) {
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    if (p.floating) total += n;
  }
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const int64_t pool_size = std::max<int64_t>(1, std::min<int64_t>(total, int64_t{1} << 24));
  const at::Tensor pool = at::randn({pool_size}, gen, at::TensorOptions().dtype(at::kFloat)).mul_(0.02);
  std::mt19937_64 offsets(seed);
  TensorMap state;
  for (const nn::ParamInfo& p : params) {
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    at::Tensor t;
    if (!p.floating) {
      t = at::arange(n, at::TensorOptions().dtype(at::kLong)).reshape(p.shape);
    } else {
      t = at::empty({n}, at::TensorOptions().dtype(at::kFloat));
      int64_t offset = static_cast<int64_t>(offsets() % static_cast<uint64_t>(pool_size));
      for (int64_t pos = 0; pos < n;) {
        const int64_t len = std::min(n - pos, pool_size - offset);
        t.slice(0, pos, pos + len).copy_(pool.slice(0, offset, offset + len));
        pos += len;
        offset = 0;
      }
      t = t.view(p.shape);
      const bool norm_scale = p.shape.size() == 1 && p.name.size() >= 7 &&
                              p.name.compare(p.name.size() - 7, 7, ".weight") == 0;
      if (norm_scale) t.add_(1.0);
    }
    state[p.name] = convert_tensor(t, opt);
  }
  return state;
}

void randomize(Module& m, const DeviceDtype& opt, uint64_t seed) {
  TensorMap state = random_state(m, opt, seed);
  for (const auto& p : m.state_entries()) *p.slot = state.at(p.name);
}

}  // namespace ma::nn
