#include "models/densepose/boxes.h"

#include <cmath>

#include "nn/ops/roi_align.h"

namespace ma::densepose {

at::Tensor apply_deltas(const at::Tensor& deltas_in, const at::Tensor& boxes_in, const std::array<double, 4>& wts) {
  const double scale_clamp = std::log(1000.0 / 16);
  const at::Tensor deltas = deltas_in.to(at::kFloat), boxes = boxes_in.to(at::kFloat);
  using at::indexing::Slice;
  const at::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  const at::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  const at::Tensor ctr_x = boxes.select(1, 0) + 0.5 * widths;
  const at::Tensor ctr_y = boxes.select(1, 1) + 0.5 * heights;
  const at::Tensor dx = deltas.index({Slice(), Slice(0, at::indexing::None, 4)}) / wts[0];
  const at::Tensor dy = deltas.index({Slice(), Slice(1, at::indexing::None, 4)}) / wts[1];
  const at::Tensor dw = at::clamp_max(deltas.index({Slice(), Slice(2, at::indexing::None, 4)}) / wts[2], scale_clamp);
  const at::Tensor dh = at::clamp_max(deltas.index({Slice(), Slice(3, at::indexing::None, 4)}) / wts[3], scale_clamp);
  const at::Tensor pred_ctr_x = dx * widths.unsqueeze(1) + ctr_x.unsqueeze(1);
  const at::Tensor pred_ctr_y = dy * heights.unsqueeze(1) + ctr_y.unsqueeze(1);
  const at::Tensor pred_w = at::exp(dw) * widths.unsqueeze(1);
  const at::Tensor pred_h = at::exp(dh) * heights.unsqueeze(1);
  const at::Tensor x1 = pred_ctr_x - 0.5 * pred_w, y1 = pred_ctr_y - 0.5 * pred_h;
  const at::Tensor x2 = pred_ctr_x + 0.5 * pred_w, y2 = pred_ctr_y + 0.5 * pred_h;
  return at::stack({x1, y1, x2, y2}, -1).reshape(deltas.sizes());
}

at::Tensor clip_boxes(const at::Tensor& b, int64_t h, int64_t w) {
  const double W = static_cast<double>(w), H = static_cast<double>(h);
  return at::stack({b.select(1, 0).clamp(0, W), b.select(1, 1).clamp(0, H), b.select(1, 2).clamp(0, W),
                    b.select(1, 3).clamp(0, H)},
                   -1);
}

at::Tensor nonempty(const at::Tensor& b) {
  return ((b.select(1, 2) - b.select(1, 0)) > 0) & ((b.select(1, 3) - b.select(1, 1)) > 0);
}

at::Tensor level_anchors(int64_t h, int64_t w, int64_t stride, double size) {
  // generate_cell_anchors in Python floats, then one float32 tensor.
  std::vector<float> cell;
  for (double ratio : {0.5, 1.0, 2.0}) {
    const double area = size * size;
    const double aw = std::sqrt(area / ratio), ah = ratio * aw;
    for (double v : {-aw / 2.0, -ah / 2.0, aw / 2.0, ah / 2.0}) cell.push_back(static_cast<float>(v));
  }
  const at::Tensor base = at::tensor(cell).view({1, 3, 4});
  const auto s = static_cast<double>(stride);
  const at::Tensor xs = at::arange(0.0, static_cast<double>(w) * s, s, at::kFloat);
  const at::Tensor ys = at::arange(0.0, static_cast<double>(h) * s, s, at::kFloat);
  const auto grid = at::meshgrid({ys, xs}, "ij");
  const at::Tensor sx = grid[1].reshape(-1), sy = grid[0].reshape(-1);
  const at::Tensor shifts = at::stack({sx, sy, sx, sy}, 1);
  return (shifts.view({-1, 1, 4}) + base).reshape({-1, 4});
}

at::Tensor multilevel_roi_align(const std::vector<at::Tensor>& levels, int64_t first_level, const at::Tensor& boxes,
                                int64_t resolution, int64_t sampling_ratio, bool aligned) {
  const at::Tensor rois = at::cat({at::zeros({boxes.size(0), 1}, boxes.options()), boxes}, 1);
  auto scale_of = [&](size_t k) { return 1.0 / static_cast<double>(int64_t{1} << (first_level + k)); };
  if (levels.size() == 1) return nn::ops::roi_align(levels[0], rois, resolution, resolution, scale_of(0), sampling_ratio, aligned);
  const at::Tensor sizes = at::sqrt((boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1)));
  const int64_t last_level = first_level + static_cast<int64_t>(levels.size()) - 1;
  const at::Tensor assigned =
      (at::floor(4 + at::log2(sizes / 224 + 1e-8)).clamp(first_level, last_level)).to(at::kLong) - first_level;
  at::Tensor out = at::zeros({boxes.size(0), levels[0].size(1), resolution, resolution}, levels[0].options());
  for (size_t k = 0; k < levels.size(); ++k) {
    const at::Tensor idx = at::nonzero(assigned == static_cast<int64_t>(k)).select(1, 0);
    if (idx.numel() == 0) continue;
    out.index_copy_(0, idx, nn::ops::roi_align(levels[k], rois.index_select(0, idx), resolution, resolution,
                                               scale_of(k), sampling_ratio, aligned));
  }
  return out;
}

}  // namespace ma::densepose
