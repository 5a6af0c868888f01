#include "pipeline/control_residual_cache.h"

#include <algorithm>
#include <utility>

#include "util/error.h"

namespace ma {

ControlResidualCache::ControlResidualCache(std::vector<Window> windows, int64_t frames, int64_t block, Compute compute)
    : windows_(std::move(windows)), frames_(frames), block_(block), compute_(std::move(compute)) {
  if (block_ < 1 || frames_ < 1)
    throw Error("ControlNet residual cache: " + std::to_string(frames_) + " frames in blocks of " +
                std::to_string(block_));
  readers_left_.assign(static_cast<size_t>((frames_ + block_ - 1) / block_), 0);
  for (const Window& w : windows_)
    for (int64_t k : blocks_of(w)) ++readers_left_[static_cast<size_t>(k)];
}

std::vector<int64_t> ControlResidualCache::blocks_of(const Window& window) const {
  std::vector<int64_t> ks;
  for (int64_t f : window) {
    if (f < 0 || f >= frames_) throw Error("ControlNet residual cache: frame " + std::to_string(f) + " out of range");
    const int64_t k = f / block_;
    if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
  }
  return ks;
}

const ControlResiduals& ControlResidualCache::block(int64_t k) {
  auto it = blocks_.find(k);
  if (it == blocks_.end()) {
    it = blocks_.emplace(k, compute_(k * block_, std::min((k + 1) * block_, frames_))).first;
    ++computed_;
    peak_resident_ = std::max(peak_resident_, blocks_.size());
  }
  return it->second;
}

ControlResiduals ControlResidualCache::for_window(size_t index) {
  const Window& window = windows_.at(index);
  const std::vector<int64_t> ks = blocks_of(window);

  // Concatenate the window's blocks (one or two, in order of first use) and
  // pick its frames from them.
  std::vector<int64_t> offset(readers_left_.size(), 0);
  std::vector<const ControlResiduals*> parts;
  int64_t rows = 0;  // the last block is shorter where frames_ is not whole blocks
  for (int64_t k : ks) {
    offset[static_cast<size_t>(k)] = rows;
    rows += std::min((k + 1) * block_, frames_) - k * block_;
    parts.push_back(&block(k));
  }
  std::vector<int64_t> local;
  for (int64_t f : window) local.push_back(offset[static_cast<size_t>(f / block_)] + f % block_);
  const at::Tensor& any = parts.front()->down.front();
  const at::Tensor idx = at::tensor(local, at::TensorOptions().dtype(at::kLong)).to(any.device());
  auto gather = [&](auto member) {
    std::vector<at::Tensor> pieces;
    for (const ControlResiduals* p : parts) pieces.push_back(member(*p));
    return (pieces.size() == 1 ? pieces.front() : at::cat(pieces, 0)).index_select(0, idx);
  };

  ControlResiduals out;
  for (size_t level = 0; level < parts.front()->down.size(); ++level)
    out.down.push_back(gather([level](const ControlResiduals& r) { return r.down[level]; }));
  if (parts.front()->mid.defined())  // undefined in a shallow (deep-feature reuse) step
    out.mid = gather([](const ControlResiduals& r) { return r.mid; });

  for (int64_t k : ks)
    if (--readers_left_[static_cast<size_t>(k)] == 0) blocks_.erase(k);
  return out;
}

}  // namespace ma
