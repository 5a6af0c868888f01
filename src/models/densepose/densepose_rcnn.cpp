// GeneralizedRCNN.inference for DensePose (detectron2 meta_arch/rcnn.py,
// proposal_generator/rpn.py + proposal_utils.py, roi_heads/fast_rcnn.py,
// projects/DensePose roi_heads/roi_head.py, postprocessing.py), one frame at
// a time, with the operations in detectron2's order so that floats agree.
#include "models/densepose/densepose_rcnn.h"

#include <cmath>

#include "media/image.h"
#include "weights/numpy_pickle.h"
#include "models/densepose/boxes.h"
#include "nn/ops/nms.h"
#include "util/error.h"

namespace ma::densepose {

std::pair<int64_t, int64_t> resized_size(int64_t h, int64_t w, int64_t short_edge, int64_t max_size) {
  // ResizeShortestEdge.get_output_shape, in Python floats.
  const double size = static_cast<double>(short_edge);
  const double scale = size / static_cast<double>(std::min(h, w));
  double newh, neww;
  if (h < w) newh = size, neww = scale * static_cast<double>(w);
  else newh = scale * static_cast<double>(h), neww = size;
  if (std::max(newh, neww) > static_cast<double>(max_size)) {
    const double s = static_cast<double>(max_size) * 1.0 / std::max(newh, neww);
    newh *= s;
    neww *= s;
  }
  return {static_cast<int64_t>(newh + 0.5), static_cast<int64_t>(neww + 0.5)};
}

DensePoseRCNN::DensePoseRCNN(DensePoseConfig c) : cfg(std::move(c)) {
  backbone = register_module("backbone", std::make_unique<FPN>(cfg));
  proposal_generator = register_module("proposal_generator", std::make_unique<ProposalGenerator>(cfg));
  roi_heads = register_module("roi_heads", std::make_unique<RoiHeads>(cfg));
}

namespace {

struct Proposals {
  at::Tensor boxes, logits;
};

// RPN.forward + find_top_rpn_proposals for one image of size (h, w).
Proposals rpn_proposals(const DensePoseConfig& cfg, const RPNHead& head, const std::vector<at::Tensor>& p, int64_t h,
                        int64_t w) {
  std::vector<at::Tensor> boxes, scores, level_ids;
  for (size_t level = 0; level < p.size(); ++level) {
    const at::Tensor t = at::relu(head.conv->forward(p[level]));
    const at::Tensor logits = head.objectness_logits->forward(t).permute({0, 2, 3, 1}).flatten(1)[0];  // (H, W, A)
    const int64_t fh = t.size(2), fw = t.size(3);
    const at::Tensor deltas =
        head.anchor_deltas->forward(t).view({1, 3, 4, fh, fw}).permute({0, 3, 4, 1, 2}).flatten(1, -2)[0];
    const int64_t stride = int64_t{4} << level;
    const at::Tensor anchors = level_anchors(fh, fw, stride, 32.0 * static_cast<double>(int64_t{1} << level));
    const at::Tensor proposals = apply_deltas(deltas, anchors, {1, 1, 1, 1});
    const int64_t k = std::min<int64_t>(logits.size(0), cfg.rpn_pre_nms_topk);
    auto [top_scores, top_idx] = at::topk(logits, k, 0);
    boxes.push_back(proposals.index_select(0, top_idx));
    scores.push_back(top_scores);
    level_ids.push_back(at::full({k}, static_cast<int64_t>(level), at::kLong));
  }
  at::Tensor b = at::cat(boxes), s = at::cat(scores), lvl = at::cat(level_ids);
  const at::Tensor valid = at::isfinite(b).all(1) & at::isfinite(s);
  if (!valid.all().item<bool>()) b = b.index({valid}), s = s.index({valid}), lvl = lvl.index({valid});
  b = clip_boxes(b, h, w);
  const at::Tensor keep_nonempty = nonempty(b);
  if (!keep_nonempty.all().item<bool>())
    b = b.index({keep_nonempty}), s = s.index({keep_nonempty}), lvl = lvl.index({keep_nonempty});
  at::Tensor keep = nn::ops::batched_nms(b, s, lvl, cfg.rpn_nms);
  keep = keep.slice(0, 0, cfg.rpn_post_nms_topk);
  return {b.index_select(0, keep), s.index_select(0, keep)};
}

struct Detections {
  at::Tensor boxes, scores, classes;
};

// FastRCNNOutputLayers.inference -> fast_rcnn_inference_single_image.
Detections box_inference(const DensePoseConfig& cfg, const RoiHeads& heads, const std::vector<at::Tensor>& p,
                         const at::Tensor& proposals, int64_t h, int64_t w) {
  const std::vector<at::Tensor> p2_to_p5(p.begin(), p.begin() + 4);
  at::Tensor x = multilevel_roi_align(p2_to_p5, 2, proposals, cfg.box_pooler, cfg.box_sampling, cfg.box_aligned);
  x = at::relu(heads.box_head->fc1->forward(x.flatten(1)));
  x = at::relu(heads.box_head->fc2->forward(x));
  const at::Tensor logits = heads.box_predictor->cls_score->forward(x);
  const at::Tensor deltas = heads.box_predictor->bbox_pred->forward(x);
  at::Tensor boxes = apply_deltas(deltas, proposals, {10, 10, 5, 5});
  at::Tensor scores = at::softmax(logits, -1);
  const at::Tensor valid = at::isfinite(boxes).all(1) & at::isfinite(scores).all(1);
  if (!valid.all().item<bool>()) boxes = boxes.index({valid}), scores = scores.index({valid});
  scores = scores.slice(1, 0, scores.size(1) - 1);  // drop background
  const int64_t reg_classes = boxes.size(1) / 4;
  boxes = clip_boxes(boxes.reshape({-1, 4}), h, w).view({-1, reg_classes, 4});
  const at::Tensor filter_mask = scores > cfg.score_thresh;
  const at::Tensor filter_inds = at::nonzero(filter_mask);
  if (reg_classes == 1) boxes = boxes.index_select(0, filter_inds.select(1, 0)).select(1, 0);
  else boxes = boxes.index({filter_mask});
  scores = scores.index({filter_mask});
  at::Tensor keep = nn::ops::batched_nms(boxes, scores, filter_inds.select(1, 1), cfg.box_nms);
  if (cfg.detections_per_image >= 0) keep = keep.slice(0, 0, cfg.detections_per_image);
  return {boxes.index_select(0, keep), scores.index_select(0, keep), filter_inds.select(1, 1).index_select(0, keep)};
}

}  // namespace

DensePoseOutput DensePoseRCNN::forward(const at::Tensor& bgr) const {
  if (bgr.dim() != 3 || bgr.size(2) != 3 || bgr.scalar_type() != at::kByte || bgr.size(0) < 1 || bgr.size(1) < 1)
    throw Error("densepose: expected a uint8 [H, W, 3] frame, got " + c10::str(bgr.sizes()));
  const at::Device device = backbone->lateral[0]->weight.device();
  const at::ScalarType dtype = backbone->lateral[0]->weight.scalar_type();
  const int64_t H = bgr.size(0), W = bgr.size(1);
  DensePoseOutput out;
  std::tie(out.resized_h, out.resized_w) = resized_size(H, W, cfg.min_size, cfg.max_size);
  // DefaultPredictor: PIL bilinear resize of the uint8 frame, float CHW; then (x - mean) / std, zero pad to 32.
  const at::Tensor resized = resize_like_pillow(bgr, out.resized_w, out.resized_h, PillowFilter::Bilinear);
  at::Tensor image = resized.permute({2, 0, 1}).to(at::kFloat);
  image = (image - at::tensor(std::vector<float>(cfg.pixel_mean.begin(), cfg.pixel_mean.end())).view({3, 1, 1})) /
          at::tensor(std::vector<float>(cfg.pixel_std.begin(), cfg.pixel_std.end())).view({3, 1, 1});
  const int64_t ph = (out.resized_h + 31) / 32 * 32, pw = (out.resized_w + 31) / 32 * 32;
  image = at::constant_pad_nd(image, {0, pw - out.resized_w, 0, ph - out.resized_h}, 0).unsqueeze(0);
  image = image.to(device, dtype);

  out.features = backbone->forward(image);
  const Proposals props =
      rpn_proposals(cfg, *proposal_generator->rpn_head, out.features, out.resized_h, out.resized_w);
  out.proposals = props.boxes;
  out.objectness = props.logits;
  Detections det = box_inference(cfg, *roi_heads, out.features, props.boxes, out.resized_h, out.resized_w);

  // DensePose branch on the final boxes (still in resized coordinates).
  const int64_t n = det.boxes.size(0);
  if (n > 0) {
    const std::vector<at::Tensor> p2_to_p5(out.features.begin(), out.features.begin() + 4);
    const at::Tensor decoded = roi_heads->decoder->forward(p2_to_p5);
    const at::Tensor pooled = multilevel_roi_align({decoded}, 2, det.boxes, cfg.dp_pooler, cfg.dp_sampling, cfg.dp_aligned);
    const at::Tensor head = roi_heads->densepose_head->forward(pooled);
    const ChartPredictor& pr = *roi_heads->densepose_predictor;
    out.coarse_segm = upsample2x(pr.ann_index_lowres->forward(head));
    out.fine_segm = upsample2x(pr.index_uv_lowres->forward(head));
    out.u = upsample2x(pr.u_lowres->forward(head));
    out.v = upsample2x(pr.v_lowres->forward(head));
  } else {
    const int64_t s = cfg.dp_pooler * 4;
    out.coarse_segm = at::zeros({0, cfg.coarse_channels, s, s});
    out.fine_segm = out.u = out.v = at::zeros({0, cfg.num_patches + 1, s, s});
  }
  // detector_postprocess: back to frame coordinates, clip, drop empty boxes.
  const double sx = static_cast<double>(W) / static_cast<double>(out.resized_w);
  const double sy = static_cast<double>(H) / static_cast<double>(out.resized_h);
  at::Tensor boxes = det.boxes.clone();
  using at::indexing::Slice;
  boxes.index({Slice(), Slice(0, at::indexing::None, 2)}).mul_(sx);
  boxes.index({Slice(), Slice(1, at::indexing::None, 2)}).mul_(sy);
  boxes = clip_boxes(boxes, H, W);
  const at::Tensor keep = at::nonzero(nonempty(boxes)).select(1, 0);
  out.boxes = boxes.index_select(0, keep).cpu().to(at::kFloat);
  out.scores = det.scores.index_select(0, keep).cpu().to(at::kFloat);
  out.classes = det.classes.index_select(0, keep).cpu();
  out.coarse_segm = out.coarse_segm.index_select(0, keep.to(out.coarse_segm.device())).cpu().to(at::kFloat);
  out.fine_segm = out.fine_segm.index_select(0, keep.to(out.fine_segm.device())).cpu().to(at::kFloat);
  out.u = out.u.index_select(0, keep.to(out.u.device())).cpu().to(at::kFloat);
  out.v = out.v.index_select(0, keep.to(out.v.device())).cpu().to(at::kFloat);
  return out;
}

bool is_ignored_checkpoint_key(const std::string& key) {
  return key == "pixel_mean" || key == "pixel_std" ||
         key.compare(0, 43, "proposal_generator.anchor_generator.cell_an") == 0;
}

std::unique_ptr<DensePoseRCNN> load_densepose(const std::string& path, const std::string& config_name,
                                              const std::function<void(DensePoseConfig&)>& adjust) {
  TensorMap weights = load_numpy_pickle(path);
  for (auto it = weights.begin(); it != weights.end();) it = is_ignored_checkpoint_key(it->first) ? weights.erase(it) : ++it;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [k, t] : weights) shapes[k] = t.sizes().vec();
  DensePoseConfig cfg;
  try {
    cfg = config_from_shapes(shapes);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  if (!config_name.empty() && config_name != cfg.name)
    throw Error(path + ": holds " + cfg.name + " weights, not " + config_name);
  if (adjust) adjust(cfg);
  auto model = std::make_unique<DensePoseRCNN>(cfg);
  nn::require_ok(nn::load_state_dict(*model, weights), path);
  return model;
}

}  // namespace ma::densepose
