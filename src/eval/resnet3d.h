// FID-VID's network: the 3D ResNet-50 of kenshohara/3D-ResNets-PyTorch
// trained on Kinetics (resnet-50-kinetics.pth), as DisCo's tool/metrics
// builds it: resnet50(shortcut_type="B", sample_size=112,
// sample_duration=16, last_fc=False). Bottleneck blocks (1x1x1, 3x3x3 with
// the stride, 1x1x1 x4), conv1 7x7x7 stride (1, 2, 2) padding 3, max-pool 3
// stride 2 padding 1, 1x1x1 conv + BN shortcuts, BN eps 1e-5, then
// AvgPool3d((1, 4, 4), stride 1) and flatten: 2048-d for 16x112x112 clips.
//
// Keys are the checkpoint's state_dict without DataParallel's "module."
// (load_weights strips both): conv1.weight, bn1.*, layer{1..4}.{i}.conv{1,2,3}.weight,
// .bn{1,2,3}.*, layer{k}.0.downsample.{0,1}.*, fc.* (declared and loaded, as
// DisCo's strict load_state_dict, but unused). Widths and block counts are
// read from the checkpoint's shapes (the real file has 64 / [3, 4, 6, 3]),
// so reduced copies load through the same code.
#pragma once
#include <memory>

#include "eval/layers3d.h"
#include "nn/layers.h"

namespace ma::eval {

class Resnet3dBottleneck;

class Resnet3d : public nn::Module {
 public:
  // Frames per segment and frame size DisCo uses (the average pool's kernel
  // follows from them).
  static constexpr int64_t kSegment = 16, kSize = 112;

  explicit Resnet3d(const TensorMap& weights);  // builds and loads; problems by key
  static std::unique_ptr<Resnet3d> load(const std::string& path);

  // The real checkpoint's keys and shapes (random-weight tests).
  static std::map<std::string, std::vector<int64_t>> real_shapes();

  // [N, 3, 16, 112, 112] float, RGB 0-255 minus the ActivityNet mean -> [N, C].
  at::Tensor forward(const at::Tensor& x) const;

  // One sample [3, T, 112, 112] as DisCo: padded to a multiple of 16 frames
  // with its last frame, cut into 16-frame segments, the segments' mean.
  at::Tensor sample_feature(const at::Tensor& clip) const;

  int64_t feature_dim() const { return out_channels_; }

  Conv3d* conv1;
  BatchNorm3d* bn1;
  std::vector<nn::ModuleList<Resnet3dBottleneck>*> layers;
  nn::Linear* fc;

 private:
  int64_t out_channels_ = 0;
};

class Resnet3dBottleneck : public nn::Module {
 public:
  Resnet3dBottleneck(int64_t in, int64_t planes, int64_t out, int64_t stride);
  at::Tensor forward(const at::Tensor& x) const;
  Conv3d *conv1, *conv2, *conv3;
  BatchNorm3d *bn1, *bn2, *bn3;
  // downsample.0 (1x1x1 conv with the stride), downsample.1 (BN); null when
  // the shape is unchanged.
  Conv3d* down_conv = nullptr;
  BatchNorm3d* down_bn = nullptr;
};

}  // namespace ma::eval
