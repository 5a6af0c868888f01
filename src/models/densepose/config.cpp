#include "models/densepose/config.h"

#include <cmath>

#include "util/error.h"

namespace ma::densepose {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

const std::vector<int64_t>& shape_of(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& key,
                                     size_t dims) {
  auto it = shapes.find(key);
  if (it == shapes.end())
    throw Error("not DensePose R-CNN weights (no '" + key + "'; expected detectron2's model_final_*.pkl)");
  if (it->second.size() != dims) throw Error("weight '" + key + "' has an unexpected shape");
  return it->second;
}

}  // namespace

const std::vector<std::string>& zoo_config_names() {
  static const std::vector<std::string> names = {"R_50_FPN_s1x", "R_101_FPN_s1x", "R_50_FPN_DL_s1x",
                                                 "R_101_FPN_DL_s1x"};
  return names;
}

DensePoseConfig zoo_config(const std::string& name) {
  DensePoseConfig c;
  if (name == "R_50_FPN_s1x") c.depth = 50, c.deeplab = false;
  else if (name == "R_101_FPN_s1x") c.depth = 101, c.deeplab = false;
  else if (name == "R_50_FPN_DL_s1x") c.depth = 50, c.deeplab = true;
  else if (name == "R_101_FPN_DL_s1x") c.depth = 101, c.deeplab = true;
  else throw Error("unknown DensePose config '" + name + "' (expected one of " + join(zoo_config_names()) + ")");
  c.name = name;
  return c;
}

DensePoseConfig config_from_shapes(const std::map<std::string, std::vector<int64_t>>& shapes) {
  const std::string bu = "backbone.bottom_up.";
  int64_t res4_blocks = 0;
  while (shapes.count(bu + "res4." + std::to_string(res4_blocks) + ".conv1.weight")) ++res4_blocks;
  const bool deeplab = shapes.count("roi_heads.densepose_head.ASPP.project.0.weight") > 0;
  if (res4_blocks != 6 && res4_blocks != 23) {
    shape_of(shapes, bu + "res4.0.conv1.weight", 4);  // names the missing key when there is none
    throw Error("not a ResNet-50/101 DensePose R-CNN (res4 has " + std::to_string(res4_blocks) + " blocks)");
  }
  DensePoseConfig c = zoo_config(std::string("R_") + (res4_blocks == 6 ? "50" : "101") + "_FPN_" +
                                 (deeplab ? "DL_" : "") + "s1x");
  c.stem_out = shape_of(shapes, bu + "stem.conv1.weight", 4)[0];
  c.width_per_group = shape_of(shapes, bu + "res2.0.conv1.weight", 4)[0];
  c.res2_out = shape_of(shapes, bu + "res2.0.conv3.weight", 4)[0];
  c.fpn_out = shape_of(shapes, "backbone.fpn_lateral2.weight", 4)[0];
  const auto& fc1 = shape_of(shapes, "roi_heads.box_head.fc1.weight", 2);
  c.box_fc_dim = fc1[0];
  c.box_pooler = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(fc1[1]) / c.fpn_out)));
  c.decoder_conv_dims = shape_of(shapes, "roi_heads.decoder.p2.0.weight", 4)[0];
  c.decoder_num_classes = shape_of(shapes, "roi_heads.decoder.predictor.weight", 4)[0];
  c.head_dim = shape_of(shapes, "roi_heads.densepose_head.body_conv_fcn1.weight", 4)[0];
  c.head_convs = 0;
  while (shapes.count("roi_heads.densepose_head.body_conv_fcn" + std::to_string(c.head_convs + 1) + ".weight"))
    ++c.head_convs;
  const auto& index_uv = shape_of(shapes, "roi_heads.densepose_predictor.index_uv_lowres.weight", 4);
  c.num_patches = index_uv[1] - 1;
  c.deconv_kernel = index_uv[2];
  c.coarse_channels = shape_of(shapes, "roi_heads.densepose_predictor.ann_index_lowres.weight", 4)[1];
  return c;
}

}  // namespace ma::densepose
