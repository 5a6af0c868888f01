// Pixel metrics in float64 loops over contiguous uint8 frames. The loops
// follow the Python expressions DisCo evaluates (cited per function) rather
// than tensor algebra, so every rounding step can be matched.
#include "eval/pixel_metrics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "util/error.h"

namespace ma::eval {
namespace {

void check_frame(const at::Tensor& t, const char* what) {
  if (t.dim() != 3 || t.size(2) != 3 || t.scalar_type() != at::kByte)
    throw Error(std::string(what) + " must be an RGB8 [H, W, 3] frame");
}

void check_pair(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  check_frame(a, "prediction");
  check_frame(b, "ground truth");
  if (a.sizes() != b.sizes())
    throw Error("frames differ in size: " + c10::str(a.sizes()) + " vs " + c10::str(b.sizes()));
  if (mask.defined() && (mask.scalar_type() != at::kBool || mask.dim() != 2 || mask.size(0) != a.size(0) ||
                         mask.size(1) != a.size(1)))
    throw Error("mask must be a bool [H, W] tensor of the frame's size");
}

// Pointer to the mask's data, or null for "every pixel".
const bool* mask_data(const at::Tensor& mask, at::Tensor& keep) {
  if (!mask.defined()) return nullptr;
  keep = mask.contiguous();
  return keep.data_ptr<bool>();
}

// Accumulates f(a, b) over the channels of the pixels in the region; returns
// the sum and the number of values summed.
template <typename F>
std::pair<double, int64_t> sum_over_region(const at::Tensor& pred, const at::Tensor& gt, const at::Tensor& mask, F f) {
  check_pair(pred, gt, mask);
  at::Tensor a = pred.contiguous(), b = gt.contiguous(), keep;
  const uint8_t* pa = a.data_ptr<uint8_t>();
  const uint8_t* pb = b.data_ptr<uint8_t>();
  const bool* m = mask_data(mask, keep);
  const int64_t pixels = a.size(0) * a.size(1);
  double sum = 0;
  int64_t count = 0;
  for (int64_t p = 0; p < pixels; ++p) {
    if (m && !m[p]) continue;
    for (int c = 0; c < 3; ++c) sum += f(pa[3 * p + c], pb[3 * p + c]);
    count += 3;
  }
  if (count == 0) throw Error("the mask selects no pixel of this frame");
  return {sum, count};
}

// ---- OpenCV's INTER_LINEAR (imgproc/src/resize.cpp, 8U path) --------------
constexpr int kCoefBits = 11;  // INTER_RESIZE_COEF_BITS
constexpr int kCoefScale = 1 << kCoefBits;

struct LinearTap {
  int i0, i1;      // source indices (clamped)
  int16_t w0, w1;  // saturate_cast<short>(cbuf[k] * 2048), rounded separately
};

// One axis of resize()'s coefficient tables: float coordinates, cvFloor,
// weights rounded to nearest even, borders clamped as OpenCV does.
std::vector<LinearTap> linear_taps(int src, int dst) {
  const double inv_scale = static_cast<double>(dst) / src;
  const double scale = 1.0 / inv_scale;
  std::vector<LinearTap> taps(static_cast<size_t>(dst));
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (s < 0) f = 0, s = 0;
    if (s >= src - 1) f = 0, s = src - 1;
    LinearTap& t = taps[static_cast<size_t>(d)];
    t.i0 = s;
    t.i1 = std::min(s + 1, src - 1);
    t.w0 = static_cast<int16_t>(std::nearbyint((1.f - f) * kCoefScale));
    t.w1 = static_cast<int16_t>(std::nearbyint(f * kCoefScale));
  }
  return taps;
}

// The y axis clamps rows rather than weights (resizeGeneric_Invoker's clip()).
std::vector<LinearTap> linear_row_taps(int src, int dst) {
  const double scale = 1.0 / (static_cast<double>(dst) / src);
  std::vector<LinearTap> taps(static_cast<size_t>(dst));
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    LinearTap& t = taps[static_cast<size_t>(d)];
    t.i0 = std::clamp(s, 0, src - 1);
    t.i1 = std::clamp(s + 1, 0, src - 1);
    t.w0 = static_cast<int16_t>(std::nearbyint((1.f - f) * kCoefScale));
    t.w1 = static_cast<int16_t>(std::nearbyint(f * kCoefScale));
  }
  return taps;
}

uint8_t saturate_u8(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

at::Tensor area_half(const at::Tensor& src, int64_t width, int64_t height) {
  const uint8_t* s = src.data_ptr<uint8_t>();
  const int64_t sw = src.size(1);
  at::Tensor out = at::empty({height, width, 3}, at::kByte);
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        const uint8_t* p = s + ((2 * y) * sw + 2 * x) * 3 + c;
        const int sum = p[0] + p[3] + p[sw * 3] + p[sw * 3 + 3];
        o[(y * width + x) * 3 + c] = static_cast<uint8_t>((sum + 2) >> 2);
      }
  return out;
}

}  // namespace

at::Tensor resize_like_opencv(const at::Tensor& rgb, int64_t width, int64_t height) {
  check_frame(rgb, "image");
  at::Tensor src = rgb.contiguous();
  const int sh = static_cast<int>(src.size(0)), sw = static_cast<int>(src.size(1));
  if (width < 1 || height < 1) throw Error("resize target must be at least 1x1");
  if (width == sw && height == sh) return src.clone();
  // resize(): "in case of scale_x && scale_y is equal to 2, INTER_AREA (fast) also is equal to INTER_LINEAR".
  const double scale_x = 1.0 / (static_cast<double>(width) / sw), scale_y = 1.0 / (static_cast<double>(height) / sh);
  if (scale_x == 2.0 && scale_y == 2.0) return area_half(src, width, height);

  const std::vector<LinearTap> cols = linear_taps(sw, static_cast<int>(width));
  const std::vector<LinearTap> rows = linear_row_taps(sh, static_cast<int>(height));
  const uint8_t* s = src.data_ptr<uint8_t>();
  const int row_len = static_cast<int>(width) * 3;
  // Horizontal pass of one source row, kept unrounded in int (HResizeLinear).
  auto horizontal = [&](int y, std::vector<int>& out) {
    const uint8_t* r = s + static_cast<int64_t>(y) * sw * 3;
    for (int x = 0; x < width; ++x) {
      const LinearTap& t = cols[static_cast<size_t>(x)];
      for (int c = 0; c < 3; ++c) out[static_cast<size_t>(x * 3 + c)] = r[t.i0 * 3 + c] * t.w0 + r[t.i1 * 3 + c] * t.w1;
    }
  };

  at::Tensor out = at::empty({height, width, 3}, at::kByte);
  uint8_t* o = out.data_ptr<uint8_t>();
  std::vector<int> h0(static_cast<size_t>(row_len)), h1(static_cast<size_t>(row_len));
  for (int y = 0; y < height; ++y) {
    const LinearTap& t = rows[static_cast<size_t>(y)];
    horizontal(t.i0, h0);
    horizontal(t.i1, h1);
    uint8_t* d = o + static_cast<int64_t>(y) * row_len;
    // VResizeLinearVec_32s8u: rows >> 4 packed to int16, v_mul_hi by the
    // weights, then a rounding shift by 2. OpenCV 4.6 gives this for every
    // byte of the row, the tail included (its scalar FixedPtCast formula,
    // (w0 a + w1 b + 2^21) >> 22, differs in ~4% of values and is not used).
    for (int x = 0; x < row_len; ++x) {
      const int a = h0[static_cast<size_t>(x)], b = h1[static_cast<size_t>(x)];
      const int hi = (((a >> 4) * t.w0) >> 16) + (((b >> 4) * t.w1) >> 16);
      d[x] = saturate_u8((hi + 2) >> 2);
    }
  }
  return out;
}

at::Tensor gray_like_opencv(const at::Tensor& rgb) {
  check_frame(rgb, "image");
  at::Tensor src = rgb.contiguous();
  at::Tensor out = at::empty({src.size(0), src.size(1)}, at::kByte);
  const uint8_t* s = src.data_ptr<uint8_t>();
  uint8_t* o = out.data_ptr<uint8_t>();
  const int64_t n = out.numel();
  for (int64_t p = 0; p < n; ++p)
    o[p] = static_cast<uint8_t>((9798 * s[3 * p] + 19235 * s[3 * p + 1] + 3735 * s[3 * p + 2] + 16384) >> 15);
  return out;
}

double l1_disco(const at::Tensor& pred, const at::Tensor& gt, const at::Tensor& mask) {
  // sl.l1_eval: np.mean(abs(a.astype(float) - b.astype(float)) / (H * W)).
  auto [sum, count] = sum_over_region(pred, gt, mask, [](int a, int b) { return std::abs(a - b); });
  return sum / static_cast<double>(count) / static_cast<double>(gt.size(0) * gt.size(1));
}

double psnr(const at::Tensor& pred, const at::Tensor& gt, Protocol protocol, const at::Tensor& mask) {
  double (*square)(int, int) = protocol == Protocol::Disco
                                   ? +[](int a, int b) {  // np.uint8: (a - b) wraps, and so does its square
                                       const unsigned d = static_cast<uint8_t>(a - b);
                                       return static_cast<double>(static_cast<uint8_t>(d * d));
                                     }
                                   : +[](int a, int b) { return static_cast<double>((a - b) * (a - b)); };
  auto [sum, count] = sum_over_region(pred, gt, mask, square);
  const double mse = sum / static_cast<double>(count);
  if (mse == 0) return 100.0;
  return 20.0 * std::log10(255.0 / std::sqrt(mse));
}

namespace {

// scipy.ndimage.uniform_filter(x, 7) (mode "reflect": d c b a | a b c d | d c b a),
// one axis at a time.
at::Tensor box_filter(const at::Tensor& x, int size) {
  const int64_t h = x.size(0), w = x.size(1), r = size / 2;
  auto reflect = [](int64_t i, int64_t n) {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - 1 - i;
    return i;
  };
  at::Tensor tmp = at::empty_like(x), out = at::empty_like(x);
  const double* s = x.data_ptr<double>();
  double* t = tmp.data_ptr<double>();
  double* o = out.data_ptr<double>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t i = 0; i < w; ++i) {
      double acc = 0;
      for (int64_t k = -r; k <= r; ++k) acc += s[y * w + reflect(i + k, w)];
      t[y * w + i] = acc / size;
    }
  for (int64_t y = 0; y < h; ++y)
    for (int64_t i = 0; i < w; ++i) {
      double acc = 0;
      for (int64_t k = -r; k <= r; ++k) acc += t[reflect(y + k, h) * w + i];
      o[y * w + i] = acc / size;
    }
  return out;
}

}  // namespace

double ssim_gray(const at::Tensor& x_in, const at::Tensor& y_in, const at::Tensor& mask) {
  constexpr int kWin = 7;
  if (x_in.dim() != 2 || x_in.sizes() != y_in.sizes()) throw Error("SSIM needs two grey images of one size");
  if (x_in.size(0) < kWin || x_in.size(1) < kWin)
    throw Error("SSIM needs frames of at least 7x7 pixels, got " + c10::str(x_in.sizes()));
  at::Tensor x = x_in.to(at::kDouble).contiguous(), y = y_in.to(at::kDouble).contiguous();
  const double cov_norm = 49.0 / 48.0, range = 255.0;
  const double c1 = (0.01 * range) * (0.01 * range), c2 = (0.03 * range) * (0.03 * range);
  at::Tensor ux = box_filter(x, kWin), uy = box_filter(y, kWin);
  at::Tensor uxx = box_filter(x * x, kWin), uyy = box_filter(y * y, kWin), uxy = box_filter(x * y, kWin);
  const double *pux = ux.data_ptr<double>(), *puy = uy.data_ptr<double>();
  const double *puxx = uxx.data_ptr<double>(), *puyy = uyy.data_ptr<double>(), *puxy = uxy.data_ptr<double>();
  at::Tensor keep;
  const bool* m = mask_data(mask, keep);
  const int64_t h = x.size(0), w = x.size(1), pad = (kWin - 1) / 2;
  double sum = 0;
  int64_t count = 0;
  for (int64_t r = pad; r < h - pad; ++r)
    for (int64_t c = pad; c < w - pad; ++c) {
      const int64_t p = r * w + c;
      if (m && !m[p]) continue;
      const double vx = cov_norm * (puxx[p] - pux[p] * pux[p]);
      const double vy = cov_norm * (puyy[p] - puy[p] * puy[p]);
      const double vxy = cov_norm * (puxy[p] - pux[p] * puy[p]);
      const double a1 = 2 * pux[p] * puy[p] + c1, a2 = 2 * vxy + c2;
      const double b1 = pux[p] * pux[p] + puy[p] * puy[p] + c1, b2 = vx + vy + c2;
      sum += (a1 * a2) / (b1 * b2);
      ++count;
    }
  if (count == 0) throw Error("the mask selects no pixel of this frame inside SSIM's 3-pixel border");
  return sum / static_cast<double>(count);
}

double ssim(const at::Tensor& pred, const at::Tensor& gt, const at::Tensor& mask) {
  check_pair(pred, gt, mask);
  return ssim_gray(gray_like_opencv(pred), gray_like_opencv(gt), mask);
}

}  // namespace ma::eval
