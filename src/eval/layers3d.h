// The leaf layers of the video-metric networks (DisCo's 3D ResNet-50 and
// I3D), named like torch.nn's Conv3d / BatchNorm3d so their keys are the
// checkpoints' ("conv1.weight", "bn1.running_var"). Shapes are declared up
// front (inferred from the checkpoint by the networks), so loading reports
// every missing, unexpected or mis-shaped key by name.
#pragma once
#include <array>

#include "nn/module.h"

namespace ma::eval {

using Dims3 = std::array<int64_t, 3>;  // (T, H, W)

class Conv3d : public nn::Module {
 public:
  Conv3d(int64_t in, int64_t out, Dims3 kernel, Dims3 stride, Dims3 padding, bool bias);
  at::Tensor forward(const at::Tensor& x) const;  // [N, C, T, H, W]
  at::Tensor weight, bias;
  int64_t in_channels, out_channels;
  Dims3 kernel, stride, padding;
};

// Inference only: the running statistics normalise (eval mode).
class BatchNorm3d : public nn::Module {
 public:
  BatchNorm3d(int64_t channels, double eps);
  at::Tensor forward(const at::Tensor& x) const;
  at::Tensor weight, bias, running_mean, running_var;
  double eps;
};

// The shape of `key` in a checkpoint (structure is inferred from these);
// a missing key is one ma::Error naming it and `what`.
std::vector<int64_t> shape_in(const TensorMap& weights, const std::string& key, const std::string& what);

// Loads `weights` into `net` (float32 on the CPU, as the other metric
// networks), all problems reported by key; PyTorch >= 0.4.1's
// bn.num_batches_tracked counters (absent from older files, unused in
// eval mode) are ignored.
void load_metric_net(nn::Module& net, const TensorMap& weights, const std::string& what);

}  // namespace ma::eval
