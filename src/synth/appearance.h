// What a synthetic figure looks like: skin tone, hair, face, and clothing with
// a pattern (solid, stripes, checks, dots, prints) painted in the body's own
// surface coordinates, so the cloth moves and turns with the figure.
#pragma once
#include <cstdint>

#include "synth/rng.h"

namespace ma::synth {

struct Rgbf {
  float r = 0, g = 0, b = 0;
};
inline Rgbf mix(Rgbf a, Rgbf b, double t) {
  const float k = static_cast<float>(t);
  return {a.r + (b.r - a.r) * k, a.g + (b.g - a.g) * k, a.b + (b.b - a.b) * k};
}
inline Rgbf scaled(Rgbf a, double k) {
  const float f = static_cast<float>(k);
  return {a.r * f, a.g * f, a.b * f};
}

enum class Pattern { solid, stripes, checks, dots, print };
constexpr int kPatternCount = 5;

struct Material {
  Pattern pattern = Pattern::solid;
  Rgbf a, b, c;          // ground, second and third colour (0..1)
  double period = 0.05;  // pattern repeat (body units)
  double angle = 0;      // stripes: 0 = bands around the limb, pi/2 = along it
  uint64_t key = 0;      // the print's motifs and the weave's grain
};

// Colour at surface coordinates u (along the part) and v (around it), both in body units.
Rgbf material_colour(const Material& m, double u, double v);

// Every hair style is painted on the head's surface, so the DensePose head
// stays the whole head.
enum class Hair { short_cut, long_hair, shaved, bun };

struct Look {
  Rgbf skin, hair, eyes, lips;
  Hair hair_style = Hair::short_cut;
  Material shirt, pants, shoes;
  double sleeve = 1;   // covered length of the arm from the shoulder (body units)
  double trouser = 1;  // covered length of the leg from the hip (body units)
};

// `arm` and `leg` are the figure's arm and leg lengths (for sleeve and trouser lengths).
Look sample_look(Rng& rng, double arm, double leg);

// The head's colour at height t (0 = chin, 1 = crown) and body azimuth `az`
// (0 = the face's middle, +pi/2 = the figure's left ear, pi = the back).
Rgbf head_colour(const Look& look, double t, double az);

}  // namespace ma::synth
