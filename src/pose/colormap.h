// The palettes DensePose part labels are painted with.
#pragma once
#include <array>
#include <cstdint>

namespace ma::pose {

struct Rgb {
  uint8_t r, g, b;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

enum class Colormap { Viridis, Parula };

// 256 entries, index = the 8-bit value applyColorMap looks up.
const std::array<Rgb, 256>& colormap_table(Colormap cmap);

// The colour of part label I (0..24) as detectron2's fine-segmentation
// visualiser paints it: table[uint8(clip(I * 255 / 24, 0, 255))], i.e. floor(I * 10.625).
inline Rgb part_colour(Colormap cmap, int label) {
  const int index = static_cast<int>(static_cast<float>(label) * 10.625f);
  return colormap_table(cmap)[static_cast<size_t>(index < 0 ? 0 : (index > 255 ? 255 : index))];
}

}  // namespace ma::pose
