// Backgrounds behind the synthetic figure: gradients, textures (noise, tiles,
// wallpaper) and simple scenes (a room with a floor, an outdoor view), drawn
// in fractions of the frame so they look alike at every size.
#pragma once
#include <cstdint>
#include <vector>

#include "synth/appearance.h"
#include "synth/rng.h"

namespace ma::synth {

enum class Backdrop { gradient, noise, tiles, wallpaper, room, outdoor };
constexpr int kBackdropCount = 6;
const char* backdrop_name(Backdrop b);

struct Background {
  Backdrop kind = Backdrop::gradient;
  Rgbf c[4];              // the colours the kind uses
  double horizon = 0.7;   // floor line of the scenes (fraction of the height)
  double angle = 0;       // gradient / tile direction (radians)
  double scale = 0.1;     // texture / tile size (fraction of the frame)
  uint64_t key = 0;       // noise and object placement
  bool has_floor() const { return kind == Backdrop::room || kind == Backdrop::outdoor; }
};

Background sample_background(Rng& rng);

// The background as width*height RGB floats (row-major, 0..1), one per
// sample of the renderer's grid (pixel centres of that grid).
std::vector<Rgbf> render_background(const Background& bg, int width, int height);

}  // namespace ma::synth
