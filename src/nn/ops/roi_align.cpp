#include "nn/ops/roi_align.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "util/error.h"

namespace ma::nn::ops {
namespace {

// One bilinear sample: four flat offsets into an H*W plane and their weights.
struct Sample {
  int64_t p1, p2, p3, p4;
  float w1, w2, w3, w4;
};

// torchvision's pre_calc_for_bilinear_interpolate for one roi, in its order
// (bins row-major, samples row-major inside each bin) and float arithmetic.
void precompute(int64_t height, int64_t width, int64_t out_h, int64_t out_w, float start_h, float start_w,
                float bin_h, float bin_w, int64_t grid_h, int64_t grid_w, std::vector<Sample>& out) {
  out.clear();
  for (int64_t ph = 0; ph < out_h; ++ph)
    for (int64_t pw = 0; pw < out_w; ++pw)
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        const float yy = start_h + ph * bin_h + static_cast<float>(iy + .5f) * bin_h / static_cast<float>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          const float xx = start_w + pw * bin_w + static_cast<float>(ix + .5f) * bin_w / static_cast<float>(grid_w);
          float x = xx, y = yy;
          if (y < -1.0 || y > height || x < -1.0 || x > width) {
            out.push_back({0, 0, 0, 0, 0.f, 0.f, 0.f, 0.f});
            continue;
          }
          if (y <= 0) y = 0;
          if (x <= 0) x = 0;
          int64_t y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x), y_high, x_high;
          if (y_low >= height - 1) {
            y_high = y_low = height - 1;
            y = static_cast<float>(y_low);
          } else {
            y_high = y_low + 1;
          }
          if (x_low >= width - 1) {
            x_high = x_low = width - 1;
            x = static_cast<float>(x_low);
          } else {
            x_high = x_low + 1;
          }
          const float ly = y - y_low, lx = x - x_low, hy = 1.f - ly, hx = 1.f - lx;
          out.push_back({y_low * width + x_low, y_low * width + x_high, y_high * width + x_low,
                         y_high * width + x_high, hy * hx, hy * lx, ly * hx, ly * lx});
        }
      }
}

}  // namespace

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, int64_t out_h, int64_t out_w,
                     double spatial_scale, int64_t sampling_ratio, bool aligned) {
  if (input.dim() != 4 || rois.dim() != 2 || rois.size(1) != 5 || out_h <= 0 || out_w <= 0)
    throw Error("roi_align: input must be [N, C, H, W] and rois [R, 5]");
  const at::Tensor x = input.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor r = rois.to(at::kCPU, at::kFloat).contiguous();
  const int64_t n = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3), count_rois = r.size(0);
  at::Tensor out = at::zeros({count_rois, channels, out_h, out_w}, at::kFloat);
  const float* in = x.data_ptr<float>();
  const float* box = r.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, count_rois, 1, [&](int64_t begin, int64_t end) {
    std::vector<Sample> samples;
    for (int64_t k = begin; k < end; ++k) {
      const float* b = box + k * 5;
      const auto batch = static_cast<int64_t>(b[0]);
      if (batch < 0 || batch >= n) continue;  // checked again below, outside the parallel region
      const float offset = aligned ? 0.5f : 0.f;
      const float scale = static_cast<float>(spatial_scale);
      const float start_w = b[1] * scale - offset, start_h = b[2] * scale - offset;
      float roi_w = b[3] * scale - offset - start_w, roi_h = b[4] * scale - offset - start_h;
      if (!aligned) {
        roi_w = std::max(roi_w, 1.f);
        roi_h = std::max(roi_h, 1.f);
      }
      const float bin_h = roi_h / static_cast<float>(out_h), bin_w = roi_w / static_cast<float>(out_w);
      const int64_t grid_h = sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(roi_h / out_h));
      const int64_t grid_w = sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(roi_w / out_w));
      const float count = static_cast<float>(std::max<int64_t>(grid_h * grid_w, 1));
      precompute(height, width, out_h, out_w, start_h, start_w, bin_h, bin_w, grid_h, grid_w, samples);
      for (int64_t c = 0; c < channels; ++c) {
        const float* plane = in + (batch * channels + c) * height * width;
        float* o = dst + (k * channels + c) * out_h * out_w;
        size_t s = 0;
        for (int64_t bin = 0; bin < out_h * out_w; ++bin) {
          float value = 0.f;
          for (int64_t g = 0; g < grid_h * grid_w; ++g, ++s) {
            const Sample& p = samples[s];
            value += p.w1 * plane[p.p1] + p.w2 * plane[p.p2] + p.w3 * plane[p.p3] + p.w4 * plane[p.p4];
          }
          o[bin] = value / count;
        }
      }
    }
  });
  if (count_rois > 0) {
    const at::Tensor batches = r.select(1, 0);
    if (batches.min().item<float>() < 0 || batches.max().item<float>() >= n)
      throw Error("roi_align: a roi names a batch index outside the input");
  }
  return out.to(input.device(), input.scalar_type());
}

}  // namespace ma::nn::ops
