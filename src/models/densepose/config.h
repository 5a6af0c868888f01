// DensePose R-CNN hyper-parameters: the effective detectron2 config of the
// four model-zoo configs (Base-DensePose-RCNN-FPN.yaml + densepose/config.py +
// detectron2's defaults), with every width a field so the tiny parity models
// (same architecture, small channels) use the same code.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ma::densepose {

struct DensePoseConfig {
  std::string name = "R_50_FPN_s1x";  // zoo config name
  int depth = 50;                     // RESNETS.DEPTH: 50 or 101
  bool deeplab = false;               // ROI_DENSEPOSE_HEAD.NAME DensePoseDeepLabHead (else V1ConvX)
  // Backbone (FrozenBN everywhere, STRIDE_IN_1X1, no dilation / deformable conv).
  int64_t stem_out = 64, width_per_group = 64, res2_out = 256, fpn_out = 256;
  // RPN: 3 anchors per cell (ratios 0.5 / 1 / 2), sizes 32..512 on p2..p6.
  int64_t rpn_pre_nms_topk = 1000, rpn_post_nms_topk = 1000;
  double rpn_nms = 0.7;
  // Box head: ROIAlign (aligned=False, as the base yaml sets POOLER_TYPE), 2 fc.
  int64_t box_pooler = 7, box_sampling = 2, box_fc_dim = 1024;
  bool box_aligned = false;
  double score_thresh = 0.05, box_nms = 0.5;  // SCORE_THRESH_TEST, NMS_THRESH_TEST
  int64_t detections_per_image = 100;        // TEST.DETECTIONS_PER_IMAGE
  // DensePose branch: Panoptic-FPN decoder at stride 4, then the head and the chart predictor.
  int64_t decoder_conv_dims = 256, decoder_num_classes = 256;
  int64_t dp_pooler = 28, dp_sampling = 2, head_dim = 512, head_convs = 8;
  bool dp_aligned = false;
  int64_t num_patches = 24, coarse_channels = 2, deconv_kernel = 4;
  // Input: BGR, ResizeShortestEdge(MIN_SIZE_TEST, MAX_SIZE_TEST), (x - mean) / std, pad to 32.
  int64_t min_size = 800, max_size = 1333;
  std::array<float, 3> pixel_mean = {103.530f, 116.280f, 123.675f}, pixel_std = {1.f, 1.f, 1.f};

  int64_t res5_out() const { return res2_out * 8; }
};

// The names --config accepts, in the order the zoo lists them.
const std::vector<std::string>& zoo_config_names();

// The full-size config of a zoo name; throws ma::Error naming the accepted ones.
DensePoseConfig zoo_config(const std::string& name);

// Recognises the architecture from a weight file's keys and shapes: depth
// from the res4 block count, the head from its keys, every width from a
// weight shape (so the tiny test models load too). Settings no key shows
// (poolers, thresholds, input size) keep the zoo values. Throws ma::Error
// when the keys are not a DensePose R-CNN's.
DensePoseConfig config_from_shapes(const std::map<std::string, std::vector<int64_t>>& shapes);

}  // namespace ma::densepose
