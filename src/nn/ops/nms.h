// Non-maximum suppression with torchvision.ops semantics (Debian ships no C++
// torchvision, and ATen has no nms): greedy, in descending score order (a
// stable sort, so equal scores keep their input order), IoU without the
// legacy +1, a box suppressed when IoU > threshold.
#pragma once
#include <ATen/ATen.h>

namespace ma::nn::ops {

// boxes [N, 4] (x1, y1, x2, y2), scores [N] -> int64 indices of the kept
// boxes, highest score first. Computed on the CPU in the boxes' dtype.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

// torchvision.ops.batched_nms: NMS independently per value of `idxs`. Like
// torchvision it offsets each category's boxes apart when there are at most
// 1000 boxes on the CPU (4000 coordinates) and loops over categories
// otherwise; both give the same boxes up to rounding, but parity needs the
// same rounding.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold);

}  // namespace ma::nn::ops
