// The viridis table is pose/colormap.cpp's, taken from OpenCV itself, so its
// rounding is OpenCV's, not matplotlib's.
#include "synth/densepose_palette.h"

#include <cstddef>

namespace ma::synth {

const std::array<Rgb8, 256>& viridis_table() { return pose::colormap_table(pose::Colormap::Viridis); }

Rgb8 part_colour(int index) {
  if (index < 0) index = 0;
  if (index >= kPartCount) index = kPartCount - 1;
  return pose::part_colour(pose::Colormap::Viridis, index);
}

int part_of_colour(Rgb8 c) {
  for (int i = 0; i < kPartCount; ++i)
    if (part_colour(i) == c) return i;
  return -1;
}

}  // namespace ma::synth
