// pytorch-fid's FID-Inception (mseitzer/pytorch-fid src/pytorch_fid/inception.py,
// the network DisCo's reported FID ran): torchvision's Inception3 layout
// with TF-2015 weights and FID's patched blocks (FIDInceptionA/C/E_1 average
// pools exclude padding, FIDInceptionE_2 max-pools), pool3 features:
// input [0, 1] -> bilinear 299x299 (align_corners false, no antialias) ->
// 2x - 1 -> Conv2d_1a ... Mixed_7c -> global average -> 2048-d.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "weights/tensor_map.h"

namespace ma::eval {

class FidInception {
 public:
  // Keys as torchvision / pt_inception-2015-12-05-6726825d.pth name them
  // (Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_var, ...;
  // fc.* is ignored). Missing tensors: ma::Error naming the key.
  explicit FidInception(const TensorMap& weights);
  static FidInception load(const std::string& path);

  // Every key the network reads, with its shape (tests build weights from it).
  static std::vector<std::pair<std::string, std::vector<int64_t>>> parameter_shapes();

  // float [N, 3, H, W] in [0, 1] -> [N, 2048].
  at::Tensor features(const at::Tensor& images01) const;

  // RGB8 [H, W, 3] frames -> [N, 2048] (ToTensor, then features()).
  at::Tensor frame_features(const std::vector<at::Tensor>& frames) const;

 private:
  struct Conv {
    at::Tensor weight, gamma, beta, mean, var;
    std::vector<int64_t> stride, padding;
  };
  at::Tensor run(const std::string& name, const at::Tensor& x) const;
  at::Tensor block_a(const std::string& p, const at::Tensor& x) const;
  at::Tensor block_b(const std::string& p, const at::Tensor& x) const;
  at::Tensor block_c(const std::string& p, const at::Tensor& x) const;
  at::Tensor block_d(const std::string& p, const at::Tensor& x) const;
  at::Tensor block_e(const std::string& p, const at::Tensor& x, bool max_pool) const;
  std::map<std::string, Conv> convs_;
};

}  // namespace ma::eval
