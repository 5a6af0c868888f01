// Which frames each denoising window covers: the original's "uniform" context
// schedule at step 0 with stride 1 (closed loop): windows of `size` frames
// starting every size - overlap frames, wrapping around the end of the video
// (frame indices modulo its length). A video no longer than one window is a
// single window of all its frames.
#pragma once
#include <cstdint>
#include <vector>

namespace ma {

using Window = std::vector<int64_t>;

std::vector<Window> uniform_windows(int64_t frames, int64_t size, int64_t overlap);

}  // namespace ma
