// Reference attention ("mutual self-attention", MagicAnimate §3.2): the
// appearance encoder *writes* the normalised hidden states entering each
// spatial self-attention of its mid and up blocks; the 3D UNet *reads* them,
// block for block in the same order, as extra keys/values of its own
// self-attention there.
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace ma::nn {

class Attention;

struct ReferenceBank {
  enum class Mode { kOff, kWrite, kRead };

  struct Entry {
    at::Tensor hidden;  // [1, L, C]: the writer's norm1 output (conditional pass)
    at::Tensor key, value;  // the reader's to_k / to_v of `hidden`, computed on first read
  };

  Mode mode = Mode::kOff;
  // The original hands the bank from writer to reader with .to(torch.float16),
  // so the reader sees fp16-rounded values; false keeps full precision.
  bool fp16_handoff = true;
  std::vector<Entry> entries;
  size_t cursor = 0;  // next entry to read

  void start_write() { mode = Mode::kWrite, entries.clear(), cursor = 0; }
  void start_read() { mode = Mode::kRead, cursor = 0; }
  void clear() { mode = Mode::kOff, entries.clear(), cursor = 0; }
};

}  // namespace ma::nn
