// Pillow's resampling kernels (Resample.c), shared by the 8-bit resize the
// inputs go through (media/pillow_resize.cpp) and the float resize of the
// video metrics (eval/pil_float_resize.cpp).
#pragma once
#include <cmath>

namespace ma::media {

// bicubic_filter: Keys' cubic with a = -0.5, support 2.
inline double pillow_bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

}  // namespace ma::media
