#include "eval/layers3d.h"

#include "models/load.h"
#include "util/error.h"

namespace ma::eval {

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

Conv3d::Conv3d(int64_t in, int64_t out, Dims3 k, Dims3 s, Dims3 p, bool has_bias)
    : in_channels(in), out_channels(out), kernel(k), stride(s), padding(p) {
  register_parameter("weight", &weight, {out, in, k[0], k[1], k[2]});
  if (has_bias) register_parameter("bias", &bias, {out});
}

at::Tensor Conv3d::forward(const at::Tensor& x) const {
  return at::conv3d(x, weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt, stride, padding);
}

BatchNorm3d::BatchNorm3d(int64_t c, double e) : eps(e) {
  register_parameter("weight", &weight, {c});
  register_parameter("bias", &bias, {c});
  register_buffer("running_mean", &running_mean, {c});
  register_buffer("running_var", &running_var, {c});
}

at::Tensor BatchNorm3d::forward(const at::Tensor& x) const {
  return at::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/false, 0.0, eps, false);
}

std::vector<int64_t> shape_in(const TensorMap& weights, const std::string& key, const std::string& what) {
  auto it = weights.find(key);
  if (it == weights.end()) throw Error(what + " has no tensor '" + key + "'");
  return it->second.sizes().vec();
}

void load_metric_net(nn::Module& net, const TensorMap& weights, const std::string& what) {
  TensorMap used;
  for (const auto& [key, t] : weights)
    if (!ends_with(key, ".num_batches_tracked")) used.emplace(key, t);
  load_module(net, used, DeviceDtype{}, what);
}

}  // namespace ma::eval
