#include "eval/pil_float_resize.h"

#include <cmath>
#include <vector>

#include "media/pillow_filters.h"
#include "util/error.h"

namespace ma::eval {
namespace {

// Resample.c precompute_coeffs: per output index, the first input index and
// the normalised weights of the inputs that contribute.
struct Coeffs {
  std::vector<int> first, count;
  std::vector<std::vector<double>> weights;
};

Coeffs coefficients(int in_size, int out_size) {
  // Image.resize passes the box (0, 0, w, h) as floats.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;
  Coeffs c;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    std::vector<double> k(xmax);
    double sum = 0.0;
    for (int x = 0; x < xmax; ++x) sum += k[x] = media::pillow_bicubic((x + xmin - center + 0.5) / filterscale);
    if (sum != 0.0)
      for (double& v : k) v /= sum;
    c.first.push_back(xmin);
    c.count.push_back(xmax);
    c.weights.push_back(std::move(k));
  }
  return c;
}

// One pass along dimension 0 of a [n, m] float plane: [n, m] -> [out, m].
at::Tensor pass(const at::Tensor& plane, int64_t out_size) {
  const int64_t n = plane.size(0), m = plane.size(1);
  const Coeffs c = coefficients(static_cast<int>(n), static_cast<int>(out_size));
  at::Tensor out = at::empty({out_size, m}, at::kFloat);
  const float* src = plane.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  std::vector<double> acc(m);
  for (int64_t o = 0; o < out_size; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int i = 0; i < c.count[o]; ++i) {
      const float* row = src + (c.first[o] + i) * m;
      const double k = c.weights[o][i];
      for (int64_t j = 0; j < m; ++j) acc[j] += row[j] * k;
    }
    for (int64_t j = 0; j < m; ++j) dst[o * m + j] = static_cast<float>(acc[j]);
  }
  return out;
}

}  // namespace

at::Tensor resize_float_like_pil(const at::Tensor& hwc, int64_t width, int64_t height) {
  if (hwc.dim() != 3 || hwc.size(0) < 1 || hwc.size(1) < 1 || width < 1 || height < 1 || width > 65536 ||
      height > 65536)
    throw Error("resize_float_like_pil: cannot resize " + c10::str(hwc.sizes()) + " to " + std::to_string(width) + "x" +
                std::to_string(height));
  std::vector<at::Tensor> channels;
  for (int64_t ch = 0; ch < hwc.size(2); ++ch) {
    at::Tensor plane = hwc.select(2, ch).to(at::kFloat).contiguous();  // [H, W]
    // Horizontal first: the per-row sums run in the same order as Pillow's
    // (over the taps, each output alone), on the transposed plane.
    if (width != plane.size(1)) plane = pass(plane.t().contiguous(), width).t().contiguous();
    if (height != plane.size(0)) plane = pass(plane, height);
    channels.push_back(plane);
  }
  return at::stack(channels, 2);
}

}  // namespace ma::eval
