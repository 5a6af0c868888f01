// Box arithmetic as detectron2 does it (modeling/box_regression.py,
// structures/boxes.py, modeling/poolers.py), float32 throughout.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <vector>

namespace ma::densepose {

// Box2BoxTransform.apply_deltas: deltas [R, 4k] against boxes [R, 4]
// (x1 y1 x2 y2), weights (wx, wy, ww, wh), dw/dh clamped at log(1000/16).
at::Tensor apply_deltas(const at::Tensor& deltas, const at::Tensor& boxes, const std::array<double, 4>& weights);

// Boxes.clip((h, w)): every coordinate into [0, w] / [0, h].
at::Tensor clip_boxes(const at::Tensor& boxes, int64_t h, int64_t w);

// Boxes.nonempty(): width and height both > 0.
at::Tensor nonempty(const at::Tensor& boxes);

// DefaultAnchorGenerator for one level: sizes {size}, ratios 0.5 / 1 / 2,
// offset 0 -> [h * w * 3, 4], cell-major like the RPN's outputs.
at::Tensor level_anchors(int64_t h, int64_t w, int64_t stride, double size);

// ROIPooler over several levels (scales 1/4 .. 1/32 for p2..p5): each box
// goes to floor(4 + log2(sqrt(area) / 224 + 1e-8)) clamped to the levels.
at::Tensor multilevel_roi_align(const std::vector<at::Tensor>& levels, int64_t first_level, const at::Tensor& boxes,
                                int64_t resolution, int64_t sampling_ratio, bool aligned);

}  // namespace ma::densepose
