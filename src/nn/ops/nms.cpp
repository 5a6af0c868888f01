#include "nn/ops/nms.h"

#include <vector>

#include "util/error.h"

namespace ma::nn::ops {
namespace {

template <class T>
at::Tensor nms_kernel(const at::Tensor& dets, const at::Tensor& scores, double iou_threshold) {
  const int64_t n = dets.size(0);
  const at::Tensor x1_t = dets.select(1, 0).contiguous(), y1_t = dets.select(1, 1).contiguous();
  const at::Tensor x2_t = dets.select(1, 2).contiguous(), y2_t = dets.select(1, 3).contiguous();
  const at::Tensor areas_t = (x2_t - x1_t) * (y2_t - y1_t);
  const at::Tensor order_t = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const T *x1 = x1_t.data_ptr<T>(), *y1 = y1_t.data_ptr<T>(), *x2 = x2_t.data_ptr<T>(), *y2 = y2_t.data_ptr<T>();
  const T* areas = areas_t.data_ptr<T>();
  const int64_t* order = order_t.data_ptr<int64_t>();
  std::vector<char> suppressed(static_cast<size_t>(n), 0);
  std::vector<int64_t> keep;
  for (int64_t oi = 0; oi < n; ++oi) {
    const int64_t i = order[oi];
    if (suppressed[i]) continue;
    keep.push_back(i);
    for (int64_t oj = oi + 1; oj < n; ++oj) {
      const int64_t j = order[oj];
      if (suppressed[j]) continue;
      const T w = std::max(T(0), std::min(x2[i], x2[j]) - std::max(x1[i], x1[j]));
      const T h = std::max(T(0), std::min(y2[i], y2[j]) - std::max(y1[i], y1[j]));
      const T inter = w * h;
      const T iou = inter / (areas[i] + areas[j] - inter);  // torchvision's order of operations
      if (iou > iou_threshold) suppressed[j] = 1;
    }
  }
  return at::tensor(keep, at::kLong);
}

}  // namespace

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  if (boxes.dim() != 2 || boxes.size(1) != 4 || scores.dim() != 1 || scores.size(0) != boxes.size(0))
    throw Error("nms: boxes must be [N, 4] and scores [N]");
  const at::Device device = boxes.device();
  if (boxes.size(0) == 0) return at::empty({0}, at::TensorOptions().dtype(at::kLong).device(device));
  const at::Tensor b = boxes.cpu(), s = scores.cpu();
  at::Tensor keep;
  if (b.scalar_type() == at::kDouble) keep = nms_kernel<double>(b.contiguous(), s, iou_threshold);
  else keep = nms_kernel<float>(b.to(at::kFloat).contiguous(), s.to(at::kFloat), iou_threshold);
  return keep.to(device);
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  if (boxes.numel() == 0) return at::empty({0}, at::TensorOptions().dtype(at::kLong).device(boxes.device()));
  if (boxes.numel() > 4000) {  // torchvision's _batched_nms_vanilla
    at::Tensor keep_mask = at::zeros_like(scores, at::kBool);
    const at::Tensor classes = std::get<0>(at::_unique(idxs));
    for (int64_t c = 0; c < classes.size(0); ++c) {
      const at::Tensor members = at::where(idxs == classes[c])[0];
      const at::Tensor kept = nms(boxes.index_select(0, members), scores.index_select(0, members), iou_threshold);
      keep_mask.index_fill_(0, members.index_select(0, kept), true);
    }
    const at::Tensor keep = at::where(keep_mask)[0];
    return keep.index_select(0, std::get<1>(scores.index_select(0, keep).sort(/*dim=*/0, /*descending=*/true)));
  }
  // _batched_nms_coordinate_trick: offsets far enough apart that categories never overlap.
  const at::Tensor max_coordinate = boxes.max();
  const at::Tensor offsets = idxs.to(boxes.scalar_type()) * (max_coordinate + 1);
  return nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

}  // namespace ma::nn::ops
