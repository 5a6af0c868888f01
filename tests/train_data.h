// Tiny training datasets made by the tests themselves: clips of a coloured
// square moving over a gradient, with a "DensePose" render that colours the
// same square by its position, in the layouts `magicanimate train` reads.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <string>

#include "media/image.h"

namespace ma::test {

// Frame i of a clip: uint8 [h, w, 3]. `pose` gives the render instead.
inline at::Tensor make_frame(int64_t i, int64_t w, int64_t h, int64_t seed, bool pose) {
  at::Tensor img = at::zeros({h, w, 3}, at::kByte);
  auto a = img.accessor<uint8_t, 3>();
  const int64_t side = std::max<int64_t>(4, std::min(w, h) / 3);
  const int64_t x0 = (seed * 7 + i * 3) % std::max<int64_t>(1, w - side), y0 = (seed * 5 + i * 2) % std::max<int64_t>(1, h - side);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const bool in = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
      if (pose) {
        a[y][x][0] = in ? static_cast<uint8_t>(64 + 3 * (x - x0)) : 68;  // DensePose's purple background
        a[y][x][1] = in ? static_cast<uint8_t>(64 + 3 * (y - y0)) : 1;
        a[y][x][2] = in ? 200 : 84;
      } else {
        a[y][x][0] = in ? static_cast<uint8_t>(200 + seed * 10 % 50) : static_cast<uint8_t>(x * 255 / w);
        a[y][x][1] = in ? 40 : static_cast<uint8_t>(y * 255 / h);
        a[y][x][2] = in ? 60 : 128;
      }
    }
  return img;
}

// <root>/<name>/images/0000.png.. and densepose/ (TikTok layout). `same`:
// the pose frames are copies of the images (to test the shared crop).
inline void make_tiktok_clip(const std::string& root, const std::string& name, int64_t frames, int64_t w, int64_t h,
                             int64_t seed, bool same = false) {
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(root) / name / "images");
  fs::create_directories(fs::path(root) / name / "densepose");
  for (int64_t i = 0; i < frames; ++i) {
    char file[32];
    std::snprintf(file, sizeof file, "%04lld.png", static_cast<long long>(i));
    write_png((fs::path(root) / name / "images" / file).string(), make_frame(i, w, h, seed, false));
    write_png((fs::path(root) / name / "densepose" / file).string(), make_frame(i, w, h, seed, !same));
  }
}

}  // namespace ma::test
