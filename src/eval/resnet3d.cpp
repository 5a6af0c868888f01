#include "eval/resnet3d.h"

#include "weights/weights.h"
#include "util/error.h"

namespace ma::eval {
namespace {

constexpr double kEps = 1e-5;  // nn.BatchNorm3d's default
const char* const kWhat = "the 3D ResNet-50 weights (resnet-50-kinetics.pth)";

// nn.Sequential(conv, bn) keeps its children's indices as names.
class Sequential2 : public nn::Module {
 public:
  Sequential2(std::unique_ptr<Conv3d> c, std::unique_ptr<BatchNorm3d> b) {
    conv = register_module("0", std::move(c));
    bn = register_module("1", std::move(b));
  }
  Conv3d* conv;
  BatchNorm3d* bn;
};

bool has(const TensorMap& w, const std::string& key) { return w.count(key) > 0; }

}  // namespace

Resnet3dBottleneck::Resnet3dBottleneck(int64_t in, int64_t planes, int64_t out, int64_t stride) {
  conv1 = register_module("conv1", std::make_unique<Conv3d>(in, planes, Dims3{1, 1, 1}, Dims3{1, 1, 1}, Dims3{0, 0, 0}, false));
  bn1 = register_module("bn1", std::make_unique<BatchNorm3d>(planes, kEps));
  conv2 = register_module("conv2", std::make_unique<Conv3d>(planes, planes, Dims3{3, 3, 3},
                                                            Dims3{stride, stride, stride}, Dims3{1, 1, 1}, false));
  bn2 = register_module("bn2", std::make_unique<BatchNorm3d>(planes, kEps));
  conv3 = register_module("conv3", std::make_unique<Conv3d>(planes, out, Dims3{1, 1, 1}, Dims3{1, 1, 1}, Dims3{0, 0, 0}, false));
  bn3 = register_module("bn3", std::make_unique<BatchNorm3d>(out, kEps));
  // _make_layer: shortcut B whenever the stride or the width changes.
  if (stride != 1 || in != out) {
    auto* d = register_module(
        "downsample",
        std::make_unique<Sequential2>(std::make_unique<Conv3d>(in, out, Dims3{1, 1, 1}, Dims3{stride, stride, stride},
                                                               Dims3{0, 0, 0}, false),
                                      std::make_unique<BatchNorm3d>(out, kEps)));
    down_conv = d->conv;
    down_bn = d->bn;
  }
}

at::Tensor Resnet3dBottleneck::forward(const at::Tensor& x) const {
  at::Tensor y = at::relu(bn1->forward(conv1->forward(x)));
  y = at::relu(bn2->forward(conv2->forward(y)));
  y = bn3->forward(conv3->forward(y));
  const at::Tensor residual = down_conv ? down_bn->forward(down_conv->forward(x)) : x;
  return at::relu(y + residual);
}

Resnet3d::Resnet3d(const TensorMap& w) {
  const int64_t stem = shape_in(w, "conv1.weight", kWhat).at(0);
  conv1 = register_module("conv1", std::make_unique<Conv3d>(3, stem, Dims3{7, 7, 7}, Dims3{1, 2, 2}, Dims3{3, 3, 3}, false));
  bn1 = register_module("bn1", std::make_unique<BatchNorm3d>(stem, kEps));
  int64_t in = stem;
  for (int k = 1; k <= 4; ++k) {
    const std::string prefix = "layer" + std::to_string(k) + ".";
    const int64_t planes = shape_in(w, prefix + "0.conv1.weight", kWhat).at(0);
    const int64_t out = shape_in(w, prefix + "0.conv3.weight", kWhat).at(0);
    auto* layer = register_module("layer" + std::to_string(k), std::make_unique<nn::ModuleList<Resnet3dBottleneck>>());
    for (int64_t i = 0; i == 0 || has(w, prefix + std::to_string(i) + ".conv1.weight"); ++i) {
      layer->push_back(std::make_unique<Resnet3dBottleneck>(in, planes, out, i == 0 && k > 1 ? 2 : 1));
      in = out;
    }
    layers.push_back(layer);
  }
  out_channels_ = in;
  const int64_t classes = has(w, "fc.weight") ? shape_in(w, "fc.weight", kWhat).at(0) : 400;
  fc = register_module("fc", std::make_unique<nn::Linear>(in, classes));
  load_metric_net(*this, w, kWhat);
}

std::unique_ptr<Resnet3d> Resnet3d::load(const std::string& path) {
  return std::make_unique<Resnet3d>(load_weights_as_stored(path));
}

std::map<std::string, std::vector<int64_t>> Resnet3d::real_shapes() {
  std::map<std::string, std::vector<int64_t>> s;
  auto bn = [&](const std::string& p, int64_t c) {
    for (const char* n : {"weight", "bias", "running_mean", "running_var"}) s[p + "." + n] = {c};
  };
  s["conv1.weight"] = {64, 3, 7, 7, 7};
  bn("bn1", 64);
  const int blocks[] = {3, 4, 6, 3};
  int64_t in = 64;
  for (int k = 0; k < 4; ++k) {
    const int64_t planes = 64 << k, out = planes * 4;
    for (int i = 0; i < blocks[k]; ++i) {
      const std::string p = "layer" + std::to_string(k + 1) + "." + std::to_string(i) + ".";
      s[p + "conv1.weight"] = {planes, in, 1, 1, 1};
      s[p + "conv2.weight"] = {planes, planes, 3, 3, 3};
      s[p + "conv3.weight"] = {out, planes, 1, 1, 1};
      bn(p + "bn1", planes);
      bn(p + "bn2", planes);
      bn(p + "bn3", out);
      if (i == 0) {
        s[p + "downsample.0.weight"] = {out, in, 1, 1, 1};
        bn(p + "downsample.1", out);
      }
      in = out;
    }
  }
  s["fc.weight"] = {400, 2048};
  s["fc.bias"] = {400};
  return s;
}

at::Tensor Resnet3d::forward(const at::Tensor& x) const {
  if (x.dim() != 5 || x.size(1) != 3 || x.size(2) != kSegment || x.size(3) != kSize || x.size(4) != kSize)
    throw Error("the 3D ResNet takes [N, 3, 16, 112, 112] clips, got " + c10::str(x.sizes()));
  at::Tensor y = at::relu(bn1->forward(conv1->forward(x)));
  y = at::max_pool3d(y, {3, 3, 3}, {2, 2, 2}, {1, 1, 1});
  for (const auto* layer : layers)
    for (const Resnet3dBottleneck* block : *layer) y = block->forward(y);
  // AvgPool3d((ceil(16 / 16), ceil(112 / 32), ceil(112 / 32)), stride=1), then x.view(N, -1).
  y = at::avg_pool3d(y, {1, 4, 4}, {1, 1, 1});
  return y.reshape({y.size(0), -1});
}

at::Tensor Resnet3d::sample_feature(const at::Tensor& clip) const {
  if (clip.dim() != 4 || clip.size(1) == 0) throw Error("a 3D ResNet sample is [3, T, 112, 112], got " + c10::str(clip.sizes()));
  at::Tensor v = clip;
  const int64_t t = v.size(1), rest = t % kSegment;
  if (rest != 0) v = at::cat({v, v.narrow(1, t - 1, 1).expand({3, kSegment - rest, v.size(2), v.size(3)})}, 1);
  const int64_t segments = v.size(1) / kSegment;
  // [3, S*16, H, W] -> [S, 3, 16, H, W] (DisCo: view(S, 16, H, W, 3).permute(0, 4, 1, 2, 3) of frames-last data).
  const at::Tensor batch = v.reshape({3, segments, kSegment, v.size(2), v.size(3)}).permute({1, 0, 2, 3, 4}).contiguous();
  return forward(batch).mean(0);
}

}  // namespace ma::eval
