// The figure as 2.5-D shapes in the frame: one capsule (a segment with a
// radius at each end) or slab (a rounded trapezoid, the torso) per body part,
// with the depth of its axis, its DensePose labels and its clothing.
#pragma once
#include <vector>

#include "synth/appearance.h"
#include "synth/motion.h"
#include "synth/skeleton.h"

namespace ma::synth {

enum class Shape { capsule, slab };
enum class Surface { skin, shirt, pants, shoes, head };

struct Primitive {
  Shape shape = Shape::capsule;
  double ax = 0, ay = 0, bx = 0, by = 0;  // axis ends (pixels)
  double za = 0, zb = 0;                  // their depth (pixels; larger = farther from the camera)
  double ra = 0, rb = 0;                  // half-widths at A and B (pixels)
  double rounding = 0;                    // slab corner radius (pixels)
  double bulge = 1;                       // surface depth in front of the axis, per unit half-width
  int front = 0, back = 0;                // DensePose labels seen from the front / back
  double front_centre = 0;                // body azimuth (radians) at the middle of the front chart
  bool left_right = false;                // head: `front` = the figure's right half, `back` = left
  double facing = 0;                      // the part's yaw (radians)
  Surface surface = Surface::skin;
  double u0 = 0, u1 = 0;                  // texture coordinate along the axis at A and B (body units)
  double cover = 1e9;                     // `surface` covers u < cover, skin beyond (sleeves, shorts)
  double girth = 0.03;                    // body units per radian around the part
};

// Frame geometry: pixels per body unit and the image size.
struct View {
  int width = 0, height = 0;
};

// The parts, farthest first; `head_yaw` turns the head (its labels and face)
// against the body; `scale` receives pixels per body unit.
std::vector<Primitive> body_primitives(const Proportions& p, const Joints& j, const Placement& place, double head_yaw,
                                       const Look& look, const View& view, double* scale = nullptr);

}  // namespace ma::synth
