// ControlNet residuals for the denoising windows of one step, computed block
// by block and kept only while a window still needs them.
//
// The original computes ControlNet on every frame of the video before the
// first UNet window of a step and keeps all of it (at 512x512 about 27 MB
// per frame in fp32: 3.5 GB for 128 frames). Here frames are grouped in the
// original's non-overlapping blocks ([k*B, (k+1)*B), B = the context length,
// the same ControlNet batches, so the same numbers); a block is computed when
// the first window reads it and dropped after the last window of the step
// that reads it. Windows run in order and overlap only their neighbours, so
// a step holds at most the blocks of two consecutive windows plus the first
// block, which the wrap-around window at the end reads again: memory no
// longer grows with the length of the video.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "models/unet.h"
#include "pipeline/context_windows.h"

namespace ma {

class ControlResidualCache {
 public:
  // Residuals of frames [start, end) as ControlNet returns them.
  using Compute = std::function<ControlResiduals(int64_t start, int64_t end)>;

  // `frames` need not be a multiple of `block`: the video is padded to a
  // multiple of L, not of the window, so the last block may be shorter. The
  // original's last ControlNet window wraps around instead (context.py:42,
  // overlap 0) and recomputes the first frames; ControlNet works frame by
  // frame, so either gives each frame the same residuals.
  ControlResidualCache(std::vector<Window> windows, int64_t frames, int64_t block, Compute compute);

  // The residuals of windows[index]'s frames, in the window's order. Call
  // once per window; blocks no later window reads are released afterwards.
  ControlResiduals for_window(size_t index);

  size_t resident_blocks() const { return blocks_.size(); }
  size_t peak_resident_blocks() const { return peak_resident_; }
  int64_t computed_blocks() const { return computed_; }

 private:
  const ControlResiduals& block(int64_t k);
  std::vector<int64_t> blocks_of(const Window& window) const;

  std::vector<Window> windows_;
  int64_t frames_, block_;
  Compute compute_;
  std::map<int64_t, ControlResiduals> blocks_;
  std::vector<int64_t> readers_left_;  // per block: windows still to read it
  size_t peak_resident_ = 0;
  int64_t computed_ = 0;
};

}  // namespace ma
