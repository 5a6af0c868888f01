#include "eval/lpips.h"

#include "weights/weights.h"
#include "util/error.h"

namespace ma::eval {
namespace {

// torchvision vgg16().features: convolution indices of each LPIPS slice
// (features[0:4], [4:9], [9:16], [16:23], [23:30]); ReLU follows every conv.
const std::vector<std::vector<int>> kSliceConvs = {{0, 2}, {5, 7}, {10, 12, 14}, {17, 19, 21}, {24, 26, 28}};

const at::Tensor& need(const TensorMap& m, const std::string& key, const char* file) {
  auto it = m.find(key);
  if (it == m.end()) throw Error(std::string(file) + " has no tensor '" + key + "'");
  return it->second;
}

at::Tensor rgb8_to_unit(const at::Tensor& rgb) {
  return rgb.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div(255.0);  // ToTensor()
}

}  // namespace

LpipsVgg::LpipsVgg(const TensorMap& trunk, const TensorMap& heads) {
  int64_t channels = 3;
  for (size_t s = 0; s < kSliceConvs.size(); ++s) {
    std::vector<Conv> slice;
    for (int index : kSliceConvs[s]) {
      const std::string prefix = "features." + std::to_string(index) + ".";
      Conv c{need(trunk, prefix + "weight", "the VGG16 weights").to(at::kFloat),
             need(trunk, prefix + "bias", "the VGG16 weights").to(at::kFloat)};
      if (c.weight.dim() != 4 || c.weight.size(1) != channels || c.weight.size(2) != 3 || c.weight.size(3) != 3 ||
          c.bias.dim() != 1 || c.bias.size(0) != c.weight.size(0))
        throw Error("VGG16 tensor '" + prefix + "weight' has shape " + c10::str(c.weight.sizes()) +
                    ", expected [C, " + std::to_string(channels) + ", 3, 3] with a matching bias");
      channels = c.weight.size(0);
      slice.push_back(std::move(c));
    }
    slices_.push_back(std::move(slice));
    const std::string key = "lin" + std::to_string(s) + ".model.1.weight";
    at::Tensor head = need(heads, key, "the LPIPS heads").to(at::kFloat);
    if (head.sizes() != at::IntArrayRef({1, channels, 1, 1}))
      throw Error("LPIPS head '" + key + "' has shape " + c10::str(head.sizes()) + ", expected [1, " +
                  std::to_string(channels) + ", 1, 1]");
    heads_.push_back(head);
  }
}

LpipsVgg LpipsVgg::load(const std::string& trunk_path, const std::string& heads_path) {
  return LpipsVgg(load_weights_as_stored(trunk_path), load_weights_as_stored(heads_path));
}

std::vector<at::Tensor> LpipsVgg::features(const at::Tensor& x) const {
  // ScalingLayer: (x - shift) / scale, the ImageNet statistics in [-1, 1] units.
  const at::Tensor shift = at::tensor({-.030f, -.088f, -.188f}).view({1, 3, 1, 1});
  const at::Tensor scale = at::tensor({.458f, .448f, .450f}).view({1, 3, 1, 1});
  at::Tensor h = (x.to(at::kFloat) - shift) / scale;
  std::vector<at::Tensor> outs;
  for (size_t s = 0; s < slices_.size(); ++s) {
    if (s > 0) h = at::max_pool2d(h, {2, 2}, {2, 2});
    for (const Conv& c : slices_[s]) h = at::relu(at::conv2d(h, c.weight, c.bias, {1, 1}, {1, 1}));
    outs.push_back(h);
  }
  return outs;
}

at::Tensor LpipsVgg::forward(const at::Tensor& in0, const at::Tensor& in1) const {
  if (in0.dim() != 4 || in0.size(1) != 3 || in0.sizes() != in1.sizes())
    throw Error("LPIPS needs two [N, 3, H, W] batches of one shape, got " + c10::str(in0.sizes()) + " and " +
                c10::str(in1.sizes()));
  const std::vector<at::Tensor> f0 = features(in0), f1 = features(in1);
  at::Tensor total;
  for (size_t k = 0; k < f0.size(); ++k) {
    // lpips.normalize_tensor: f / (sqrt(sum_c f^2) + 1e-10).
    const at::Tensor n0 = f0[k] / (f0[k].pow(2).sum(1, true).sqrt() + 1e-10);
    const at::Tensor n1 = f1[k] / (f1[k].pow(2).sum(1, true).sqrt() + 1e-10);
    const at::Tensor layer = at::conv2d((n0 - n1).pow(2), heads_[k]).mean({2, 3}).view({-1});
    total = total.defined() ? total + layer : layer;
  }
  return total;
}

double LpipsVgg::distance(const at::Tensor& pred_rgb, const at::Tensor& gt_rgb, Protocol protocol) const {
  at::Tensor a = rgb8_to_unit(pred_rgb), b = rgb8_to_unit(gt_rgb);
  if (protocol == Protocol::Fixed) a = a * 2 - 1, b = b * 2 - 1;
  return forward(a, b).item<double>();
}

}  // namespace ma::eval
