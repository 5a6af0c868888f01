// Rasterises the figure's parts over a background: a depth-tested sample grid
// `ss` x `ss` per pixel; the picture is the samples' mean (smooth edges), the
// DensePose label of a pixel the label most of its samples carry (hard edges
// in the palette's exact colours, as DensePose paints them).
#pragma once
#include <cstdint>
#include <vector>

#include "synth/appearance.h"
#include "synth/body_parts.h"

namespace ma::synth {

struct Frame {
  int width = 0, height = 0;
  std::vector<uint8_t> image;   // RGB8, row-major
  std::vector<uint8_t> labels;  // DensePose part index (0..24) per pixel
};

// A soft contact shadow on the ground (pixels); strength 0 = none.
struct Shadow {
  double x = 0, y = 0, rx = 1, ry = 1, strength = 0;
};

// `background` holds (width*ss) x (height*ss) samples (render_background at that size).
Frame rasterise(const std::vector<Primitive>& parts, const Look& look, const std::vector<Rgbf>& background,
                int width, int height, int ss, const Shadow& shadow);

}  // namespace ma::synth
