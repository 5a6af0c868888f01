#include "media/jpeg_color.h"

#include <algorithm>
#include <vector>

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace ma::av {
namespace {

// One chroma plane brought to luma resolution, row-major, `width` wide.
using Plane = std::vector<uint8_t>;

struct PlaneView {
  const uint8_t* data;
  int linesize, width, height;
  int at(int x, int y) const { return data[static_cast<ptrdiff_t>(y) * linesize + x]; }
};

// libjpeg's h2v1_fancy_upsample: each output pair is 3/4 of its own sample
// plus 1/4 of the neighbour, with biases 1 and 2 alternating so rounding
// does not drift; the outermost outputs copy the edge sample.
void fancy_row_2x(const PlaneView& in, int y, uint8_t* out) {
  const int w = in.width;
  out[0] = static_cast<uint8_t>(in.at(0, y));
  out[1] = static_cast<uint8_t>((in.at(0, y) * 3 + in.at(1, y) + 2) >> 2);
  for (int x = 1; x < w - 1; ++x) {
    int v = in.at(x, y) * 3;
    out[2 * x] = static_cast<uint8_t>((v + in.at(x - 1, y) + 1) >> 2);
    out[2 * x + 1] = static_cast<uint8_t>((v + in.at(x + 1, y) + 2) >> 2);
  }
  out[2 * w - 2] = static_cast<uint8_t>((in.at(w - 1, y) * 3 + in.at(w - 2, y) + 1) >> 2);
  out[2 * w - 1] = static_cast<uint8_t>(in.at(w - 1, y));
}

// libjpeg's h2v2_fancy_upsample: vertical 3:1 column sums with the nearer
// and farther chroma row (edge rows repeat), then the same 3:1 horizontally;
// biases 8 and 7 alternate across each output pair.
void fancy_rows_2x2(const PlaneView& in, int out_row, uint8_t* out) {
  const int w = in.width;
  const int y = out_row / 2;
  const int far = std::clamp(out_row % 2 == 0 ? y - 1 : y + 1, 0, in.height - 1);
  auto colsum = [&](int x) { return in.at(x, y) * 3 + in.at(x, far); };
  int last = colsum(0), cur = last;
  out[0] = static_cast<uint8_t>((cur * 4 + 8) >> 4);
  for (int x = 0; x < w; ++x) {
    cur = colsum(x);
    if (x > 0) out[2 * x] = static_cast<uint8_t>((cur * 3 + last + 8) >> 4);
    if (x < w - 1) {
      out[2 * x + 1] = static_cast<uint8_t>((cur * 3 + colsum(x + 1) + 7) >> 4);
    } else {
      out[2 * x + 1] = static_cast<uint8_t>((cur * 4 + 7) >> 4);
    }
    last = cur;
  }
}

// libjpeg's h1v2_fancy_upsample: vertical only, biases 1 (upper) and 2 (lower).
void fancy_rows_1x2(const PlaneView& in, int out_row, uint8_t* out) {
  const int y = out_row / 2;
  const bool upper = out_row % 2 == 0;
  const int far = std::clamp(upper ? y - 1 : y + 1, 0, in.height - 1);
  const int bias = upper ? 1 : 2;
  for (int x = 0; x < in.width; ++x) {
    out[x] = static_cast<uint8_t>((in.at(x, y) * 3 + in.at(x, far) + bias) >> 2);
  }
}

// Plain replication (libjpeg's int_upsample / h2v1_upsample / h2v2_upsample).
void replicate_row(const PlaneView& in, int out_row, int hx, int vy, uint8_t* out) {
  const int y = out_row / vy;
  for (int x = 0; x < in.width; ++x) {
    std::fill_n(out + x * hx, hx, static_cast<uint8_t>(in.at(x, y)));
  }
}

// Upsamples one chroma plane to (width x height) the way libjpeg's
// jinit_upsampler would pick for these sampling factors.
bool upsample(const PlaneView& in, int log2_w, int log2_h, int width, int height, Plane& out) {
  const int hx = 1 << log2_w, vy = 1 << log2_h;
  const int row_len = in.width * hx;  // may exceed `width` by the padding column
  std::vector<uint8_t> row(static_cast<size_t>(row_len));
  out.assign(static_cast<size_t>(width) * height, 0);
  const bool wide_enough = in.width > 2;  // libjpeg's condition for fancy 2x horizontally
  for (int oy = 0; oy < height; ++oy) {
    if (hx == 1 && vy == 1) {
      for (int x = 0; x < in.width; ++x) row[x] = static_cast<uint8_t>(in.at(x, oy));
    } else if (hx == 2 && vy == 1 && wide_enough) {
      fancy_row_2x(in, oy, row.data());
    } else if (hx == 1 && vy == 2) {
      fancy_rows_1x2(in, oy, row.data());
    } else if (hx == 2 && vy == 2 && wide_enough) {
      fancy_rows_2x2(in, oy, row.data());
    } else if ((hx == 2 && vy <= 2) || (hx == 4 && vy == 1)) {
      replicate_row(in, oy, hx, vy, row.data());
    } else {
      return false;
    }
    std::copy_n(row.data(), width, out.data() + static_cast<size_t>(oy) * width);
  }
  return true;
}

// libjpeg's jdcolor.c tables: 16-bit fixed point, rounded once per term.
struct YccTables {
  int cr_r[256], cb_b[256];
  int32_t cr_g[256], cb_g[256];
  YccTables() {
    constexpr int kScaleBits = 16;
    constexpr int32_t kHalf = 1 << (kScaleBits - 1);
    auto fix = [](double v) { return static_cast<int32_t>(v * (1 << kScaleBits) + 0.5); };
    for (int i = 0; i < 256; ++i) {
      const int32_t x = i - 128;
      cr_r[i] = (fix(1.40200) * x + kHalf) >> kScaleBits;
      cb_b[i] = (fix(1.77200) * x + kHalf) >> kScaleBits;
      cr_g[i] = -fix(0.71414) * x;
      cb_g[i] = -fix(0.34414) * x + kHalf;
    }
  }
};

uint8_t clamp8(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

bool is_full_range_planar_yuv(const AVFrame& f) {
  switch (f.format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P:
      return true;
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUV422P:
    case AV_PIX_FMT_YUV444P:
    case AV_PIX_FMT_YUV440P:
    case AV_PIX_FMT_YUV411P:
      return f.color_range == AVCOL_RANGE_JPEG;  // newer FFmpeg drops the yuvj formats
    default:
      return false;
  }
}

}  // namespace

bool jpeg_ycc_to_rgb(const AVFrame& frame, uint8_t* rgb) {
  if (!is_full_range_planar_yuv(frame)) return false;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame.format));
  if (!desc) return false;
  const int w = frame.width, h = frame.height;
  const int cw = AV_CEIL_RSHIFT(w, desc->log2_chroma_w);
  const int ch = AV_CEIL_RSHIFT(h, desc->log2_chroma_h);
  Plane cb, cr;
  PlaneView cb_in{frame.data[1], frame.linesize[1], cw, ch};
  PlaneView cr_in{frame.data[2], frame.linesize[2], cw, ch};
  if (!upsample(cb_in, desc->log2_chroma_w, desc->log2_chroma_h, w, h, cb) ||
      !upsample(cr_in, desc->log2_chroma_w, desc->log2_chroma_h, w, h, cr)) {
    return false;
  }
  static const YccTables t;
  for (int y = 0; y < h; ++y) {
    const uint8_t* yrow = frame.data[0] + static_cast<ptrdiff_t>(y) * frame.linesize[0];
    const uint8_t* cbrow = cb.data() + static_cast<size_t>(y) * w;
    const uint8_t* crrow = cr.data() + static_cast<size_t>(y) * w;
    uint8_t* out = rgb + static_cast<size_t>(y) * w * 3;
    for (int x = 0; x < w; ++x) {
      const int luma = yrow[x], u = cbrow[x], v = crrow[x];
      out[3 * x + 0] = clamp8(luma + t.cr_r[v]);
      out[3 * x + 1] = clamp8(luma + ((t.cb_g[u] + t.cr_g[v]) >> 16));
      out[3 * x + 2] = clamp8(luma + t.cb_b[u]);
    }
  }
  return true;
}

}  // namespace ma::av
