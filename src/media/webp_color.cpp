#include "media/webp_color.h"

#include <algorithm>
#include <vector>

namespace ma::av {
namespace {

// libwebp's VP8YUVToR/G/B: 8.8 products (>> 8), 6 fractional bits left,
// then clipped.
int mult_hi(int v, int coeff) { return (v * coeff) >> 8; }
uint8_t clip8(int v) {
  constexpr int kMask = (256 << 6) - 1;
  return static_cast<uint8_t>((v & ~kMask) == 0 ? v >> 6 : (v < 0 ? 0 : 255));
}
void yuv_to_rgb(int y, int u, int v, uint8_t* out) {
  out[0] = clip8(mult_hi(y, 19077) + mult_hi(v, 26149) - 14234);
  out[1] = clip8(mult_hi(y, 19077) - mult_hi(u, 6419) - mult_hi(v, 13320) + 8708);
  out[2] = clip8(mult_hi(y, 19077) + mult_hi(u, 33050) - 17685);
}

// libwebp's fancy upsampler for one chroma channel of one output row: each
// luma pixel's chroma is ~9/16 of the nearest chroma sample, 3/16 of each of
// the two next nearest and 1/16 of the diagonal one, computed in libwebp's
// exact integer steps. `near` is the chroma row covering this luma row,
// `far` the neighbouring chroma row on the other side (same row at edges).
void upsample_row(const uint8_t* near, const uint8_t* far, int width, uint8_t* out) {
  out[0] = static_cast<uint8_t>((3 * near[0] + far[0] + 2) >> 2);
  const int last_pair = (width - 1) >> 1;
  for (int x = 1; x <= last_pair; ++x) {
    const int a = x - 1, b = x;
    const int avg = near[a] + near[b] + far[a] + far[b] + 8;
    const int toward_a = (avg + 2 * (near[b] + far[a])) >> 3;
    const int toward_b = (avg + 2 * (near[a] + far[b])) >> 3;
    out[2 * x - 1] = static_cast<uint8_t>((toward_a + near[a]) >> 1);
    out[2 * x] = static_cast<uint8_t>((toward_b + near[b]) >> 1);
  }
  if (width % 2 == 0) {
    out[width - 1] = static_cast<uint8_t>((3 * near[last_pair] + far[last_pair] + 2) >> 2);
  }
}

}  // namespace

bool webp_yuv_to_rgb(const AVFrame& f, uint8_t* rgb) {
  if (f.format != AV_PIX_FMT_YUV420P && f.format != AV_PIX_FMT_YUVA420P) return false;
  const int w = f.width, h = f.height;
  const int ch = (h + 1) / 2;
  std::vector<uint8_t> u(static_cast<size_t>(w)), v(static_cast<size_t>(w));
  for (int y = 0; y < h; ++y) {
    // Luma row y lies in chroma row y/2; its other neighbour is the row
    // above for even y and below for odd y (libwebp mirrors at the edges).
    const int near = y / 2;
    const int far = std::clamp(y % 2 == 0 ? near - 1 : near + 1, 0, ch - 1);
    upsample_row(f.data[1] + static_cast<ptrdiff_t>(near) * f.linesize[1],
                 f.data[1] + static_cast<ptrdiff_t>(far) * f.linesize[1], w, u.data());
    upsample_row(f.data[2] + static_cast<ptrdiff_t>(near) * f.linesize[2],
                 f.data[2] + static_cast<ptrdiff_t>(far) * f.linesize[2], w, v.data());
    const uint8_t* yrow = f.data[0] + static_cast<ptrdiff_t>(y) * f.linesize[0];
    uint8_t* out = rgb + static_cast<size_t>(y) * w * 3;
    for (int x = 0; x < w; ++x) yuv_to_rgb(yrow[x], u[x], v[x], out + 3 * x);
  }
  return true;
}

}  // namespace ma::av
