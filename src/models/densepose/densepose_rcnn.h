// DensePose R-CNN (detectron2 projects/DensePose, GeneralizedRCNN with
// DensePoseROIHeads) at inference, on the project's module tree: parameter
// names are exactly the zoo .pkl's keys ("backbone.bottom_up.res2.0.conv1.norm.weight").
// ResNet-50/101 (FrozenBN) + FPN -> RPN -> box head (fc x2) + Fast R-CNN
// inference -> Panoptic-FPN decoder -> ROIAlign -> V1ConvX or DeepLab head ->
// chart predictor (coarse / fine segmentation, U, V).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/densepose/config.h"
#include "models/densepose/layers.h"
#include "nn/module.h"

namespace ma::densepose {

class Bottleneck : public nn::Module {
 public:
  Bottleneck(int64_t in, int64_t bottleneck, int64_t out, int64_t stride);
  at::Tensor forward(const at::Tensor& x) const;
  Conv* shortcut = nullptr;
  Conv *conv1, *conv2, *conv3;
};

class ResNet : public nn::Module {
 public:
  explicit ResNet(const DensePoseConfig& c);
  // -> res2..res5
  std::vector<at::Tensor> forward(const at::Tensor& x) const;
  Conv* stem_conv;
  std::vector<nn::ModuleList<Bottleneck>*> stages;
};

class FPN : public nn::Module {
 public:
  explicit FPN(const DensePoseConfig& c);
  // image [N, 3, H, W] (normalised, padded to 32) -> p2..p6
  std::vector<at::Tensor> forward(const at::Tensor& x) const;
  ResNet* bottom_up;
  std::vector<nn::Conv2d*> lateral, output;  // index 0 = level 2
};

class RPNHead : public nn::Module {
 public:
  explicit RPNHead(int64_t channels, int64_t anchors);
  nn::Conv2d *conv, *objectness_logits, *anchor_deltas;
};

class BoxHead : public nn::Module {
 public:
  BoxHead(int64_t in, int64_t fc);
  nn::Linear *fc1, *fc2;
};

class BoxPredictor : public nn::Module {
 public:
  BoxPredictor(int64_t fc, int64_t classes);
  nn::Linear *cls_score, *bbox_pred;
};

class Decoder : public nn::Module {
 public:
  explicit Decoder(const DensePoseConfig& c);
  at::Tensor forward(const std::vector<at::Tensor>& p2_to_p5) const;
  std::vector<std::vector<Conv*>> scale_heads;  // per level: its convs (each followed by x2 except on p2)
  nn::Conv2d* predictor;
};

class DensePoseHead : public nn::Module {
 public:
  explicit DensePoseHead(const DensePoseConfig& c);
  at::Tensor forward(const at::Tensor& x) const;
  bool deeplab;
  std::vector<Conv*> aspp_branches;  // 1x1, three dilated 3x3 (6, 12, 56); the pooling branch is aspp_pool
  std::vector<nn::GroupNorm*> aspp_norms;  // after each of aspp_branches
  Conv* aspp_pool = nullptr;
  nn::GroupNorm* aspp_pool_norm = nullptr;
  Conv* aspp_project = nullptr;
  std::vector<Conv*> body;  // body_conv_fcn1..N
};

class ChartPredictor : public nn::Module {
 public:
  explicit ChartPredictor(const DensePoseConfig& c);
  ConvTranspose2d *ann_index_lowres, *index_uv_lowres, *u_lowres, *v_lowres;
};

class RoiHeads : public nn::Module {
 public:
  explicit RoiHeads(const DensePoseConfig& c);
  BoxHead* box_head;
  BoxPredictor* box_predictor;
  Decoder* decoder;
  DensePoseHead* densepose_head;
  ChartPredictor* densepose_predictor;
};

class ProposalGenerator : public nn::Module {
 public:
  explicit ProposalGenerator(const DensePoseConfig& c);
  RPNHead* rpn_head;
};

// Everything one frame gives, in original-frame pixel coordinates (plus the
// intermediates the parity tests compare).
struct DensePoseOutput {
  int64_t resized_h = 0, resized_w = 0;  // the network's input size before padding
  std::vector<at::Tensor> features;      // p2..p6, [1, C, h, w]
  at::Tensor proposals, objectness;      // [P, 4] in resized coordinates, [P]
  at::Tensor boxes, scores, classes;     // [K, 4] x1 y1 x2 y2, [K], [K] (descending score)
  at::Tensor coarse_segm, fine_segm, u, v;  // [K, 2, S, S], [K, 25, S, S] x3
};

class DensePoseRCNN : public nn::Module {
 public:
  explicit DensePoseRCNN(DensePoseConfig c);
  // frame: uint8 [H, W, 3] in BGR order (detectron2's INPUT.FORMAT).
  DensePoseOutput forward(const at::Tensor& bgr) const;
  const DensePoseConfig& config() const { return cfg; }

  DensePoseConfig cfg;
  FPN* backbone;
  ProposalGenerator* proposal_generator;
  RoiHeads* roi_heads;
};

// detectron2's ResizeShortestEdge output size for a frame (h, w).
std::pair<int64_t, int64_t> resized_size(int64_t h, int64_t w, int64_t short_edge, int64_t max_size);

// Keys of a zoo .pkl that are not weights of this module tree (older
// checkpoints store the pixel statistics and the anchors); the loader skips them.
bool is_ignored_checkpoint_key(const std::string& key);

// Loads a detectron2 .pkl: recognises the config from the keys (and checks
// it against `config_name` when not empty), lets `adjust` change the
// settings no key shows (thresholds, pooler sizes, input size), builds the
// model and loads every weight, reporting missing / unexpected / mis-shaped
// keys by name. Errors name the file.
std::unique_ptr<DensePoseRCNN> load_densepose(const std::string& pkl_path, const std::string& config_name = "",
                                              const std::function<void(DensePoseConfig&)>& adjust = nullptr);

}  // namespace ma::densepose
