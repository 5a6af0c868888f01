// What the server accepts: sizes of uploads and the ranges of every job
// parameter. Set from `magicanimate serve` flags.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ma::serve {

struct Limits {
  size_t max_upload_bytes = size_t(200) << 20;  // whole request
  int64_t max_frames = 300;                     // motion video frames
  int64_t max_resolution = 4096;                // pixels per side of either input
  int64_t max_size = 1024;                      // output size (width = height)
  int64_t max_steps = 200;
  size_t max_waiting = 1000;                    // queued jobs
};

}  // namespace ma::serve
