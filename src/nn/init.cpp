#include "nn/init.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <map>
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

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

TensorMap fresh_state(const Module& m, const DeviceDtype& opt, uint64_t seed) {
  TensorMap state = random_state(m, opt, seed);  // buffers (and a value for every entry)
  // fan_in of each layer, by the name of its weight's owner ("<layer>.weight" of 2+ dimensions).
  std::map<std::string, int64_t> fan_in;
  for (const ParamInfo& p : m.state_entries())
    if (!p.buffer && p.floating && p.shape.size() >= 2 && ends_with(p.name, ".weight")) {
      int64_t n = 1;
      for (size_t d = 1; d < p.shape.size(); ++d) n *= p.shape[d];
      fan_in[p.name.substr(0, p.name.size() - 7)] = n;
    }
  at::Generator gen = at::detail::createCPUGenerator(seed ^ 0x5deece66dull);
  for (const ParamInfo& p : m.state_entries()) {
    if (p.buffer || !p.floating) continue;
    const bool weight = ends_with(p.name, ".weight"), bias = ends_with(p.name, ".bias");
    const std::string owner = p.name.substr(0, p.name.rfind('.'));
    const auto layer = fan_in.find(owner);
    at::Tensor t;
    if (layer != fan_in.end() && (weight || bias)) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(layer->second));
      t = at::empty(p.shape, at::TensorOptions().dtype(at::kFloat)).uniform_(-bound, bound, gen);
    } else if (weight && p.shape.size() == 1) {
      t = at::ones(p.shape, at::TensorOptions().dtype(at::kFloat));  // GroupNorm / LayerNorm scale
    } else if (bias) {
      t = at::zeros(p.shape, at::TensorOptions().dtype(at::kFloat));  // norm shift
    } else {
      continue;  // anything else (e.g. an embedding table) keeps random_state's N(0, 0.02^2)
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
