// Low-memory mode's loading half. Weights memory-mapped from their .safetensors
// files as they are can leave resident memory while their network is not
// running (weights/mapped_pages.h); the others — converted to another dtype on
// loading (--dtype bf16 from fp32 files) or read from torch pickles (the
// released motion module, temporal_attention.ckpt) — are plain memory. This
// writes those once to files under $TMPDIR, unlinked at once, and maps them
// back, so every weight can go. Nothing is written where $TMPDIR is a tmpfs:
// its pages are memory already.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace ma {

struct MappedBack {
  int64_t bytes = 0;       // weights now mapped from a temporary file
  std::string not_done;    // why nothing was written, when that is so
};

// Replaces every floating, contiguous CPU weight of `nets` that lies outside
// a file mapping by the same values in one. Throws ma::Error (one line) when
// a file cannot be written (a full disk, say).
MappedBack map_resident_weights(const std::vector<const nn::Module*>& nets);

}  // namespace ma
