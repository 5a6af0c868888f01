// resize_like_pillow: Pillow's Image.resize((w, h)) with its default BICUBIC
// filter (or BILINEAR, a triangle of support 1, on request), reimplemented from the description of Pillow's Resample.c so the
// source image and control frames match the original byte for byte:
//  * a separable convolution, horizontal pass first, each pass rounded and
//    clipped to 8 bits; a pass is skipped when that dimension is unchanged;
//  * Keys' cubic kernel with a = -0.5 and support 2, stretched by the
//    downscale factor (antialiasing);
//  * per-output weights normalised in double precision, then converted to
//    fixed point with 22 fractional bits (32 - 8 - 2) rounded half away from
//    zero, accumulated in int32 from a bias of one half.
#include <cmath>
#include <vector>

#include "media/image.h"
#include "media/pillow_filters.h"
#include "util/error.h"

namespace ma {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

// Pillow's bilinear_filter (support 1), for detectron2's ResizeShortestEdge.
double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// For each output index: the first contributing input index, how many
// contribute, and their fixed-point weights (ksize slots per output).
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weight;
};

Taps compute_taps(int in_size, int out_size, PillowFilter filter) {
  const bool bilinear = filter == PillowFilter::Bilinear;
  const double support_unscaled = bilinear ? 1.0 : 2.0;
  // Pillow computes the box width as float(in1 - in0) with the box
  // (0, 0, width, height), then widens in double.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = support_unscaled * filterscale;
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weight.assign(static_cast<size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(t.ksize);
  const double inv_filterscale = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation, as Pillow
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double sum = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double arg = (x + xmin - center + 0.5) * inv_filterscale;
      k[x] = bilinear ? triangle(arg) : media::pillow_bicubic(arg);
      sum += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double w = sum != 0.0 ? k[x] / sum : k[x];
      w *= (1 << kPrecisionBits);
      t.weight[static_cast<size_t>(xx) * t.ksize + x] = static_cast<int32_t>(w < 0 ? w - 0.5 : w + 0.5);
    }
    t.first[xx] = xmin;
    t.count[xx] = xmax;
  }
  return t;
}

uint8_t clip8(int32_t acc) {
  int32_t v = acc >> kPrecisionBits;  // arithmetic shift, as Pillow's lookup index
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass: every row of `rows` x `in_w` pixels -> `out_w` pixels.
void resample_rows(const uint8_t* in, int64_t rows, int64_t in_w, int64_t ch, const Taps& t, uint8_t* out) {
  const int out_w = static_cast<int>(t.first.size());
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* src = in + y * in_w * ch;
    uint8_t* dst = out + y * out_w * ch;
    for (int o = 0; o < out_w; ++o) {
      const int32_t* k = &t.weight[static_cast<size_t>(o) * t.ksize];
      const uint8_t* s0 = src + static_cast<int64_t>(t.first[o]) * ch;
      for (int64_t c = 0; c < ch; ++c) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (int i = 0; i < t.count[o]; ++i) acc += s0[i * ch + c] * k[i];
        dst[o * ch + c] = clip8(acc);
      }
    }
  }
}

// Vertical pass: rows of `row_len` bytes -> t.first.size() rows, walking
// each output row left to right so memory is read in order.
void resample_columns(const uint8_t* in, int64_t row_len, const Taps& t, uint8_t* out) {
  const int out_h = static_cast<int>(t.first.size());
  for (int o = 0; o < out_h; ++o) {
    const int32_t* k = &t.weight[static_cast<size_t>(o) * t.ksize];
    const uint8_t* s0 = in + static_cast<int64_t>(t.first[o]) * row_len;
    uint8_t* dst = out + static_cast<int64_t>(o) * row_len;
    for (int64_t j = 0; j < row_len; ++j) {
      int32_t acc = 1 << (kPrecisionBits - 1);
      for (int i = 0; i < t.count[o]; ++i) acc += s0[i * row_len + j] * k[i];
      dst[j] = clip8(acc);
    }
  }
}

}  // namespace

at::Tensor resize_like_pillow(const at::Tensor& rgb, int64_t width, int64_t height, PillowFilter filter) {
  if (rgb.dim() != 3 || rgb.scalar_type() != at::kByte) {
    throw Error("resize_like_pillow: expected a uint8 [H, W, C] tensor, got " + c10::str(rgb.sizes()));
  }
  const int64_t in_h = rgb.size(0), in_w = rgb.size(1), ch = rgb.size(2);
  constexpr int64_t kMax = 1 << 16;
  if (width < 1 || height < 1 || width > kMax || height > kMax || in_w < 1 || in_h < 1 || ch < 1) {
    throw Error("resize_like_pillow: cannot resize " + c10::str(rgb.sizes()) + " to " + std::to_string(width) +
                "x" + std::to_string(height));
  }
  at::Tensor img = rgb.contiguous();
  // Horizontal pass over every row (Pillow restricts it to the rows the
  // vertical pass reads; the values are the same).
  if (width != in_w) {
    Taps t = compute_taps(static_cast<int>(in_w), static_cast<int>(width), filter);
    at::Tensor out = at::empty({in_h, width, ch}, at::kByte);
    resample_rows(img.data_ptr<uint8_t>(), in_h, in_w, ch, t, out.data_ptr<uint8_t>());
    img = out;
  }
  if (height != in_h) {
    const int64_t w = img.size(1);
    Taps t = compute_taps(static_cast<int>(in_h), static_cast<int>(height), filter);
    at::Tensor out = at::empty({height, w, ch}, at::kByte);
    resample_columns(img.data_ptr<uint8_t>(), w * ch, t, out.data_ptr<uint8_t>());
    img = out;
  }
  return img.data_ptr() == rgb.data_ptr() ? img.clone() : img;
}

}  // namespace ma
