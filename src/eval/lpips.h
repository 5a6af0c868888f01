// LPIPS v0.1 with the VGG16 trunk (richzhang/PerceptualSimilarity
// lpips/lpips.py, as `lpips.LPIPS(net='vgg')` that DisCo calls): a scaling
// layer, torchvision VGG16 `features` cut after relu1_2, relu2_2, relu3_3,
// relu4_3 and relu5_3, each map unit-normalised over channels, squared
// differences weighted by the 1x1 heads lin0..lin4, spatial means summed.
// Layer widths are read from the weights, so narrow copies run too (tests).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "eval/pixel_metrics.h"
#include "weights/tensor_map.h"

namespace ma::eval {

class LpipsVgg {
 public:
  // trunk: torchvision vgg16 keys features.{0,2,5,...,28}.{weight,bias}
  // (classifier.* ignored); heads: lin{0..4}.model.1.weight [1, C, 1, 1].
  // Missing or mis-shaped tensors: ma::Error naming the key.
  LpipsVgg(const TensorMap& trunk, const TensorMap& heads);

  // Reads the two files (torchvision's vgg16-397923af.pth and LPIPS's vgg.pth,
  // both legacy torch.save); errors name the file.
  static LpipsVgg load(const std::string& trunk_path, const std::string& heads_path);

  // The five trunk outputs for images already in the network's input range.
  std::vector<at::Tensor> features(const at::Tensor& x) const;

  // LPIPS.forward(in0, in1) without normalize: float [N, 3, H, W] -> [N].
  at::Tensor forward(const at::Tensor& in0, const at::Tensor& in1) const;

  // One pair of RGB8 frames as DisCo scores them: ToTensor() gives [0, 1],
  // passed on unchanged under Protocol::Disco (LPIPS expects [-1, 1]: the
  // quirk) and mapped to 2x - 1 (normalize=True) under Protocol::Fixed.
  double distance(const at::Tensor& pred_rgb, const at::Tensor& gt_rgb, Protocol protocol) const;

 private:
  struct Conv {
    at::Tensor weight, bias;
  };
  std::vector<std::vector<Conv>> slices_;  // five slices; each after the first starts with a 2x2 max-pool
  std::vector<at::Tensor> heads_;          // lin0..lin4 weights [1, C, 1, 1]
};

}  // namespace ma::eval
