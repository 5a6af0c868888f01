// ROIAlign with torchvision.ops.roi_align semantics (what detectron2's
// ROIAlign layer calls): each output bin averages sampling_ratio² bilinear
// samples (an adaptive ceil(roi / bins) per side when sampling_ratio <= 0).
// aligned=false is detectron2's "ROIAlign" (boxes as given, at least 1x1 in
// feature cells); aligned=true is "ROIAlignV2" (boxes shifted by half a
// pixel). Samples beyond one cell outside the map contribute zero, samples
// just outside are clamped onto the border, exactly as torchvision does.
#pragma once
#include <ATen/ATen.h>

namespace ma::nn::ops {

// input [N, C, H, W]; rois [R, 5] rows (batch index, x1, y1, x2, y2) in
// image coordinates, scaled by spatial_scale onto the map -> [R, C, out_h, out_w].
// Computed on the CPU in float32 (as torchvision's CPU kernel); the result
// comes back on the input's device and dtype.
at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, int64_t out_h, int64_t out_w,
                     double spatial_scale, int64_t sampling_ratio, bool aligned);

}  // namespace ma::nn::ops
