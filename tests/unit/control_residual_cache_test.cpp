// The window-local ControlNet residual cache hands every window exactly the
// residuals of its frames, computes each block once per step, and keeps a
// number of blocks that does not grow with the length of the video.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "pipeline/control_residual_cache.h"
#include "util/error.h"

namespace ma {
namespace {

// Stand-in for ControlNet: every element of frame f's residual at level l is
// f + 1000 * l (mid: level 99), shaped like the real pyramid (halving sides).
ControlResiduals fake_residuals(int64_t start, int64_t end) {
  ControlResiduals r;
  const at::Tensor frames = at::arange(start, end, at::TensorOptions().dtype(at::kFloat)).view({-1, 1, 1, 1});
  for (int64_t level = 0; level < 4; ++level) {
    const int64_t side = 8 >> level;
    r.down.push_back((frames + 1000.0 * level).expand({end - start, 3, side, side}).contiguous());
  }
  r.mid = (frames + 99000.0).expand({end - start, 5, 1, 1}).contiguous();
  return r;
}

struct StepResult {
  size_t peak_blocks = 0;
  int64_t computed = 0;
};

StepResult run_step(int64_t frames, int64_t context, int64_t overlap) {
  const std::vector<Window> windows = uniform_windows(frames, context, overlap);
  ControlResidualCache cache(windows, frames, context, fake_residuals);
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    ControlResiduals got = cache.for_window(wi);
    const at::Tensor expected_frames =
        at::tensor(windows[wi], at::TensorOptions().dtype(at::kLong)).to(at::kFloat).view({-1, 1, 1, 1});
    EXPECT_EQ(got.down.size(), 4u);
    for (size_t level = 0; level < got.down.size(); ++level) {
      const int64_t side = 8 >> level;
      const at::Tensor want = (expected_frames + 1000.0 * level).expand({-1, 3, side, side});
      EXPECT_TRUE(at::equal(got.down[level], want)) << "window " << wi << " level " << level;
    }
    EXPECT_TRUE(at::equal(got.mid, (expected_frames + 99000.0).expand({-1, 5, 1, 1}))) << "window " << wi;
  }
  EXPECT_EQ(cache.resident_blocks(), 0u) << "every block is released after its last window";
  return {cache.peak_resident_blocks(), cache.computed_blocks()};
}

TEST(ControlResidualCache, EveryWindowGetsItsFramesInOrder) {
  run_step(16, 16, 4);  // one window
  run_step(32, 16, 4);  // the public case: windows 0-15, 12-27, 24-39 mod 32 (wraps)
  run_step(48, 8, 3);   // stride 5: windows straddle block edges
}

TEST(ControlResidualCache, EachBlockIsComputedOncePerStep) {
  EXPECT_EQ(run_step(32, 16, 4).computed, 2);
  EXPECT_EQ(run_step(128, 16, 4).computed, 8);
  EXPECT_EQ(run_step(48, 8, 3).computed, 6);
}

TEST(ControlResidualCache, ResidentBlocksDoNotGrowWithTheVideo) {
  // The previous design held every frame: 8 blocks for 128 frames, 32 for 512.
  // Window-local: the blocks of the current window (two at most with a stride
  // of 12) plus block 0, kept for the wrap-around window at the end.
  for (int64_t frames : {32, 128, 512}) {
    const StepResult r = run_step(frames, 16, 4);
    EXPECT_LE(r.peak_blocks, 3u) << frames << " frames";
  }
  EXPECT_LE(run_step(512, 8, 3).peak_blocks, 3u);
}

TEST(ControlResidualCache, TheLastBlockMayBeShorter) {
  // The video is padded to a multiple of L (16), not of the window: 32 frames
  // in windows of 12 leave a last block of 8 frames; 8 frames under one window
  // of 16 are one block of 8.
  EXPECT_EQ(run_step(32, 12, 4).computed, 3);
  EXPECT_EQ(run_step(32, 24, 2).computed, 2);
  EXPECT_EQ(run_step(8, 16, 4).computed, 1);
}

TEST(ControlResidualCache, RejectsAnEmptyVideoOrBlock) {
  EXPECT_THROW(ControlResidualCache({}, 0, 16, fake_residuals), Error);
  EXPECT_THROW(ControlResidualCache(uniform_windows(16, 16, 4), 16, 0, fake_residuals), Error);
}

}  // namespace
}  // namespace ma
