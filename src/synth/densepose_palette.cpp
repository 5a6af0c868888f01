// The viridis table is data taken from OpenCV itself (tests/data/gen/make_viridis.py),
// so its rounding is OpenCV's, not matplotlib's.
#include "synth/densepose_palette.h"

#include <cstddef>

namespace ma::synth {

const std::array<Rgb8, 256>& viridis_table() {
  static const std::array<Rgb8, 256> table = {{
#include "synth/viridis_lut.inc"
  }};
  return table;
}

Rgb8 part_colour(int index) {
  if (index < 0) index = 0;
  if (index >= kPartCount) index = kPartCount - 1;
  // Integer form of clip(I * 10.625, 0, 255).astype(uint8): exact, no float rounding.
  return viridis_table()[static_cast<size_t>(index * 255 / 24)];
}

int part_of_colour(Rgb8 c) {
  for (int i = 0; i < kPartCount; ++i)
    if (part_colour(i) == c) return i;
  return -1;
}

}  // namespace ma::synth
