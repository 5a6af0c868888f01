// Reuse of the UNet's deep features across adjacent denoising steps, as
// DeepCache (Ma, Fang, Wang, CVPR 2024) does: opt-in, not the original's
// computation (`--deep-cache N`, docs/performance.md for its cost).
//
// Adjacent DDIM steps change the UNet's deep features (everything below the
// first down block: the lower down blocks, the mid block and all up blocks
// but the last) much less than its shallow ones. A full step runs the whole
// UNet and keeps the input of the last up block; the next N-1 steps run only
// the shallow branch -- conv_in, the first down block's layers (no
// downsampler), the last up block and the output layers -- on that kept
// input. At 256x256 the shallow branch is a third of a window's FLOPs.
#pragma once
#include <ATen/ATen.h>

#include <cstddef>

namespace ma {

struct DeepFeatureCache {
  enum class Mode {
    kStore,  // full pass; keep the input of the last up block
    kReuse,  // shallow pass on the kept input
  };
  Mode mode = Mode::kStore;

  // One guidance half of one window: what a full pass kept.
  struct Slot {
    at::Tensor deep;             // the last up block's input, [B*F, C, h, w]
    size_t reference_cursor = 0;  // the reference bank's read position there
  };
  // [0]: the unconditional half, [1]: the conditional one (a call without
  // guidance halves uses [0]).
  Slot halves[2];

  bool stored() const { return halves[0].deep.defined(); }
};

// Which steps are full under an interval: 0, N, 2N, ... (N = 1: every step,
// the exact computation).
inline bool deep_cache_full_step(int64_t step, int64_t interval) { return interval <= 1 || step % interval == 0; }

}  // namespace ma
