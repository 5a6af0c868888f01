// The heads' module trees (names as detectron2's add_module calls them) and
// the DensePose branch's forward: decoder (roi_head.py), V1ConvX
// (v1convx.py) / DeepLab (deeplab.py) heads.
#include <cmath>

#include "models/densepose/densepose_rcnn.h"

namespace ma::densepose {

RPNHead::RPNHead(int64_t ch, int64_t anchors) {
  conv = register_module("conv", std::make_unique<nn::Conv2d>(ch, ch, 3, 1, 1));
  objectness_logits = register_module("objectness_logits", std::make_unique<nn::Conv2d>(ch, anchors, 1));
  anchor_deltas = register_module("anchor_deltas", std::make_unique<nn::Conv2d>(ch, anchors * 4, 1));
}

ProposalGenerator::ProposalGenerator(const DensePoseConfig& c) {
  rpn_head = register_module("rpn_head", std::make_unique<RPNHead>(c.fpn_out, 3));
}

BoxHead::BoxHead(int64_t in, int64_t fc) {
  fc1 = register_module("fc1", std::make_unique<nn::Linear>(in, fc));
  fc2 = register_module("fc2", std::make_unique<nn::Linear>(fc, fc));
}

BoxPredictor::BoxPredictor(int64_t fc, int64_t classes) {
  cls_score = register_module("cls_score", std::make_unique<nn::Linear>(fc, classes + 1));
  bbox_pred = register_module("bbox_pred", std::make_unique<nn::Linear>(fc, classes * 4));
}

Decoder::Decoder(const DensePoseConfig& c) {
  // One conv per halving of the level's stride down to 4 (at least one);
  // in nn.Sequential each conv is followed by an Upsample except on p2,
  // so the convs sit at slots 0, 2, 4.
  for (int level = 2; level <= 5; ++level) {
    auto head = std::make_unique<Named>();
    std::vector<Conv*> convs;
    const int length = std::max(1, level - 2);
    for (int k = 0; k < length; ++k) {
      const int64_t in = k == 0 ? c.fpn_out : c.decoder_conv_dims;
      const std::string slot = std::to_string(level == 2 ? k : 2 * k);
      convs.push_back(head->add(slot, std::make_unique<Conv>(in, c.decoder_conv_dims, 3,
                                                             Conv::Options{1, 1, 1, true, Norm::None})));
    }
    scale_heads.push_back(convs);
    register_module("p" + std::to_string(level), std::move(head));
  }
  predictor = register_module("predictor", std::make_unique<nn::Conv2d>(c.decoder_conv_dims, c.decoder_num_classes, 1));
}

at::Tensor Decoder::forward(const std::vector<at::Tensor>& p) const {
  at::Tensor sum;
  for (size_t level = 0; level < scale_heads.size(); ++level) {
    at::Tensor x = p[level];
    for (const Conv* conv : scale_heads[level]) {
      x = at::relu(conv->forward(x));
      if (level > 0) x = upsample2x(x);
    }
    sum = level == 0 ? x : sum + x;
  }
  return predictor->forward(sum);
}

DensePoseHead::DensePoseHead(const DensePoseConfig& c) : deeplab(c.deeplab) {
  int64_t in = c.decoder_num_classes;
  if (deeplab) {
    const int64_t ch = in;  // ASPP keeps the channel count
    auto aspp = std::make_unique<Named>();
    auto convs = std::make_unique<Named>();
    auto branch0 = std::make_unique<Named>();
    aspp_branches.push_back(branch0->add("0", std::make_unique<Conv>(in, ch, 1, Conv::Options{})));
    aspp_norms.push_back(branch0->add("1", std::make_unique<nn::GroupNorm>(32, ch, 1e-5)));
    convs->add("0", std::move(branch0));
    const int64_t rates[3] = {6, 12, 56};
    for (int k = 0; k < 3; ++k) {
      auto b = std::make_unique<Named>();
      aspp_branches.push_back(b->add("0", std::make_unique<Conv>(in, ch, 3, Conv::Options{1, rates[k], rates[k]})));
      aspp_norms.push_back(b->add("1", std::make_unique<nn::GroupNorm>(32, ch, 1e-5)));
      convs->add(std::to_string(k + 1), std::move(b));
    }
    auto pool = std::make_unique<Named>();  // 0 is AdaptiveAvgPool2d(1)
    aspp_pool = pool->add("1", std::make_unique<Conv>(in, ch, 1, Conv::Options{}));
    aspp_pool_norm = pool->add("2", std::make_unique<nn::GroupNorm>(32, ch, 1e-5));
    convs->add("4", std::move(pool));
    aspp->add("convs", std::move(convs));
    auto project = std::make_unique<Named>();
    aspp_project = project->add("0", std::make_unique<Conv>(5 * ch, ch, 1, Conv::Options{}));
    aspp->add("project", std::move(project));
    register_module("ASPP", std::move(aspp));
  }
  for (int64_t k = 0; k < c.head_convs; ++k) {
    Conv::Options o{1, 1, 1, !deeplab, deeplab ? Norm::GN : Norm::None};
    body.push_back(register_module("body_conv_fcn" + std::to_string(k + 1),
                                   std::make_unique<Conv>(k == 0 ? in : c.head_dim, c.head_dim, 3, o)));
  }
}

at::Tensor DensePoseHead::forward(const at::Tensor& x_in) const {
  at::Tensor x = x_in;
  if (deeplab) {
    std::vector<at::Tensor> res;
    for (size_t k = 0; k < aspp_branches.size(); ++k) res.push_back(aspp_branches[k]->forward(x));
    for (size_t k = 0; k < res.size(); ++k) res[k] = at::relu(aspp_norms[k]->forward(res[k]));
    at::Tensor pooled = at::adaptive_avg_pool2d(x, {1, 1});
    pooled = at::relu(aspp_pool_norm->forward(aspp_pool->forward(pooled)));
    res.push_back(at::upsample_bilinear2d(pooled, {x.size(2), x.size(3)}, false));
    x = at::relu(aspp_project->forward(at::cat(res, 1)));
  }
  for (const Conv* conv : body) x = at::relu(conv->forward(x));
  return x;
}

ChartPredictor::ChartPredictor(const DensePoseConfig& c) {
  const int64_t k = c.deconv_kernel, pad = k / 2 - 1, patches = c.num_patches + 1;
  ann_index_lowres = register_module("ann_index_lowres",
                                     std::make_unique<ConvTranspose2d>(c.head_dim, c.coarse_channels, k, 2, pad));
  index_uv_lowres = register_module("index_uv_lowres", std::make_unique<ConvTranspose2d>(c.head_dim, patches, k, 2, pad));
  u_lowres = register_module("u_lowres", std::make_unique<ConvTranspose2d>(c.head_dim, patches, k, 2, pad));
  v_lowres = register_module("v_lowres", std::make_unique<ConvTranspose2d>(c.head_dim, patches, k, 2, pad));
}

RoiHeads::RoiHeads(const DensePoseConfig& c) {
  box_head = register_module("box_head", std::make_unique<BoxHead>(c.fpn_out * c.box_pooler * c.box_pooler, c.box_fc_dim));
  box_predictor = register_module("box_predictor", std::make_unique<BoxPredictor>(c.box_fc_dim, 1));
  decoder = register_module("decoder", std::make_unique<Decoder>(c));
  densepose_head = register_module("densepose_head", std::make_unique<DensePoseHead>(c));
  densepose_predictor = register_module("densepose_predictor", std::make_unique<ChartPredictor>(c));
}

}  // namespace ma::densepose
