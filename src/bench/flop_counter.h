// Counts the floating-point operations the engine's layers execute, by op:
// every convolution, linear-layer matmul and attention matmul dispatched by
// the counting thread while a FlopCounter is alive (libtorch's RecordFunction
// observer, so it sees exactly the calls the layers make, at their real
// shapes; no cost when no counter is alive).
//
// FLOPs are 2 x multiply-adds of
//   aten::convolution        2 * output elements * (C_in / groups) * kh * kw
//   aten::convolution_backward   the same per gradient asked for (input, weight)
//   aten::mm / addmm          2 * m * n * k              (Linear layers)
//   aten::bmm / baddbmm       2 * batch * m * n * k      (attention q.k^T, p.v)
//   aten::scaled_dot_product_attention   4 * batch*heads * N * M * D (fused kernel)
// Only the outermost counted op is counted (a convolution implemented with
// mm counts once). Norms, softmax and element-wise ops are not counted: they
// are memory-bound and below 1% of these figures for the UNet family.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ma::bench {

struct FlopCounts {
  double conv = 0;       // convolutions
  double linear = 0;     // mm / addmm (Linear layers, 1x1 projections as matmul)
  double attention = 0;  // bmm / baddbmm / fused attention
  // Wall seconds spent inside the counted ops of each kind (everything else
  // -- norms, softmax, element-wise, copies -- is the rest of the time).
  double conv_s = 0, linear_s = 0, attention_s = 0;
  // Wall seconds of every outermost op by its name ("aten::group_norm",
  // "aten::softmax", ...): where the "other" time goes.
  std::map<std::string, double> op_seconds;
  double total() const { return conv + linear + attention; }
  double seconds() const { return conv_s + linear_s + attention_s; }
  FlopCounts operator-(const FlopCounts& o) const;
  FlopCounts scaled(double k) const;
};

// While alive, counts the ops dispatched on the thread that created it.
// One counter per thread at a time (nesting throws std::logic_error).
class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;

  const FlopCounts& counts() const { return counts_; }
  void reset() { counts_ = {}; }

 private:
  friend struct FlopCounterAccess;
  FlopCounts counts_;
  uint64_t handle_ = 0;
};

}  // namespace ma::bench
