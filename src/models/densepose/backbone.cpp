// ResNet (detectron2 modeling/backbone/resnet.py, BottleneckBlock with
// STRIDE_IN_1X1) and FPN (fpn.py, sum fusion, LastLevelMaxPool for p6).
#include "models/densepose/densepose_rcnn.h"

namespace ma::densepose {

Bottleneck::Bottleneck(int64_t in, int64_t mid, int64_t out, int64_t stride) {
  if (in != out)
    shortcut = register_module("shortcut", std::make_unique<Conv>(in, out, 1, Conv::Options{stride, 0, 1, false,
                                                                                              Norm::FrozenBN}));
  conv1 = register_module("conv1", std::make_unique<Conv>(in, mid, 1, Conv::Options{stride, 0, 1, false,
                                                                                      Norm::FrozenBN}));
  conv2 = register_module("conv2", std::make_unique<Conv>(mid, mid, 3, Conv::Options{1, 1, 1, false, Norm::FrozenBN}));
  conv3 = register_module("conv3", std::make_unique<Conv>(mid, out, 1, Conv::Options{1, 0, 1, false, Norm::FrozenBN}));
}

at::Tensor Bottleneck::forward(const at::Tensor& x) const {
  at::Tensor y = at::relu(conv1->forward(x));
  y = at::relu(conv2->forward(y));
  y = conv3->forward(y);
  y = y + (shortcut ? shortcut->forward(x) : x);
  return at::relu(y);
}

ResNet::ResNet(const DensePoseConfig& c) {
  auto stem = std::make_unique<Named>();
  stem_conv = stem->add("conv1", std::make_unique<Conv>(3, c.stem_out, 7, Conv::Options{2, 3, 1, false,
                                                                                          Norm::FrozenBN}));
  register_module("stem", std::move(stem));
  const int blocks50[4] = {3, 4, 6, 3}, blocks101[4] = {3, 4, 23, 3};
  const int* blocks = c.depth == 101 ? blocks101 : blocks50;
  int64_t in = c.stem_out, mid = c.width_per_group, out = c.res2_out;
  for (int s = 0; s < 4; ++s) {
    auto stage = std::make_unique<nn::ModuleList<Bottleneck>>();
    for (int b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;  // res2 keeps the stem's stride 4
      stage->push_back(std::make_unique<Bottleneck>(b == 0 ? in : out, mid, out, stride));
    }
    stages.push_back(register_module("res" + std::to_string(s + 2), std::move(stage)));
    in = out;
    mid *= 2;
    out *= 2;
  }
}

std::vector<at::Tensor> ResNet::forward(const at::Tensor& x) const {
  at::Tensor y = at::relu(stem_conv->forward(x));
  y = at::max_pool2d(y, {3, 3}, {2, 2}, {1, 1});
  std::vector<at::Tensor> out;
  for (const auto* stage : stages) {
    for (const Bottleneck* block : *stage) y = block->forward(y);
    out.push_back(y);
  }
  return out;
}

FPN::FPN(const DensePoseConfig& c) {
  bottom_up = register_module("bottom_up", std::make_unique<ResNet>(c));
  for (int level = 2; level <= 5; ++level) {
    const int64_t in = c.res2_out << (level - 2);
    lateral.push_back(register_module("fpn_lateral" + std::to_string(level),
                                      std::make_unique<nn::Conv2d>(in, c.fpn_out, 1)));
    output.push_back(register_module("fpn_output" + std::to_string(level),
                                     std::make_unique<nn::Conv2d>(c.fpn_out, c.fpn_out, 3, 1, 1)));
  }
}

std::vector<at::Tensor> FPN::forward(const at::Tensor& x) const {
  const std::vector<at::Tensor> res = bottom_up->forward(x);
  std::vector<at::Tensor> p(4);
  at::Tensor prev = lateral[3]->forward(res[3]);
  p[3] = output[3]->forward(prev);
  for (int level = 2; level >= 0; --level) {
    const at::Tensor top_down = at::upsample_nearest2d(prev, {prev.size(2) * 2, prev.size(3) * 2}, 2.0, 2.0);
    prev = lateral[level]->forward(res[level]) + top_down;
    p[level] = output[level]->forward(prev);
  }
  p.push_back(at::max_pool2d(p[3], {1, 1}, {2, 2}));  // p6
  return p;
}

}  // namespace ma::densepose
