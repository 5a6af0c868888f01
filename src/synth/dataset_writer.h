// `magicanimate synth`: writes a synthetic dataset in the TikTok layout the
// trainer reads,
//   <out>/clip_NNNN/images/NNNN.png     the rendered figure
//   <out>/clip_NNNN/densepose/NNNN.png  its DensePose parts (viridis coding)
//   <out>/clip_NNNN/masks/NNNN.png      white = person
//   <out>/synth.json                    the options and what each clip shows
// deterministic per seed. Everything is written to "<out>.partial" and renamed
// to <out> when complete, so a failed or interrupted run leaves nothing.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace ma::synth {

struct SynthOptions {
  std::string out;
  int clips = 8;
  int frames = 16;
  int size = 256;
  uint64_t seed = 0;
};

// Throws ma::Error naming the first bad option (size not a multiple of 8 or
// outside 32..1024, frames or clips outside 1..9999, an existing non-empty
// or non-folder --out, a leftover "<out>.partial").
void validate(const SynthOptions& options);

struct ClipDone {
  int index = 0, clips = 0, frames = 0;
  std::string name, motion, backdrop;
};

// Validates, then writes the dataset; `on_clip` is called after each clip.
// `stop` (may be null) is polled between frames: when set, the partial output
// is removed and ma::Cancelled thrown.
void write_dataset(const SynthOptions& options, const std::function<void(const ClipDone&)>& on_clip = {},
                   const std::atomic<bool>* stop = nullptr);

}  // namespace ma::synth
