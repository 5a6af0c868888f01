#include "eval/fid_inception.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::AutoGradMode (not via ATen.h on 2.x)

#include "weights/weights.h"
#include "util/error.h"

namespace ma::eval {
namespace {

struct ConvSpec {
  std::string name;
  int64_t in, out, kh, kw, stride, ph, pw;
};

// torchvision.models.inception's BasicConv2d layers with pytorch-fid's
// widths (Mixed_5b..5d pool_features 32, 64, 64; Mixed_6b..6e channels_7x7
// 128, 160, 160, 192): name, in, out, kernel h/w, stride, padding h/w.
std::vector<ConvSpec> conv_specs() {
  std::vector<ConvSpec> s = {{"Conv2d_1a_3x3", 3, 32, 3, 3, 2, 0, 0},  {"Conv2d_2a_3x3", 32, 32, 3, 3, 1, 0, 0},
                             {"Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1}, {"Conv2d_3b_1x1", 64, 80, 1, 1, 1, 0, 0},
                             {"Conv2d_4a_3x3", 80, 192, 3, 3, 1, 0, 0}};
  auto add = [&](const std::string& n, int64_t in, int64_t out, int64_t kh, int64_t kw, int64_t stride, int64_t ph,
                 int64_t pw) { s.push_back({n, in, out, kh, kw, stride, ph, pw}); };
  const std::pair<const char*, std::pair<int64_t, int64_t>> a_blocks[] = {
      {"Mixed_5b", {192, 32}}, {"Mixed_5c", {256, 64}}, {"Mixed_5d", {288, 64}}};
  for (const auto& [b, io] : a_blocks) {
    const std::string p = std::string(b) + ".";
    const int64_t in = io.first;
    add(p + "branch1x1", in, 64, 1, 1, 1, 0, 0);
    add(p + "branch5x5_1", in, 48, 1, 1, 1, 0, 0);
    add(p + "branch5x5_2", 48, 64, 5, 5, 1, 2, 2);
    add(p + "branch3x3dbl_1", in, 64, 1, 1, 1, 0, 0);
    add(p + "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    add(p + "branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1);
    add(p + "branch_pool", in, io.second, 1, 1, 1, 0, 0);
  }
  add("Mixed_6a.branch3x3", 288, 384, 3, 3, 2, 0, 0);
  add("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1, 1, 0, 0);
  add("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
  add("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3, 2, 0, 0);
  const std::pair<const char*, int64_t> c_blocks[] = {
      {"Mixed_6b", 128}, {"Mixed_6c", 160}, {"Mixed_6d", 160}, {"Mixed_6e", 192}};
  for (const auto& [b, c7] : c_blocks) {
    const std::string p = std::string(b) + ".";
    add(p + "branch1x1", 768, 192, 1, 1, 1, 0, 0);
    add(p + "branch7x7_1", 768, c7, 1, 1, 1, 0, 0);
    add(p + "branch7x7_2", c7, c7, 1, 7, 1, 0, 3);
    add(p + "branch7x7_3", c7, 192, 7, 1, 1, 3, 0);
    add(p + "branch7x7dbl_1", 768, c7, 1, 1, 1, 0, 0);
    add(p + "branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0);
    add(p + "branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3);
    add(p + "branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0);
    add(p + "branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3);
    add(p + "branch_pool", 768, 192, 1, 1, 1, 0, 0);
  }
  add("Mixed_7a.branch3x3_1", 768, 192, 1, 1, 1, 0, 0);
  add("Mixed_7a.branch3x3_2", 192, 320, 3, 3, 2, 0, 0);
  add("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1, 1, 0, 0);
  add("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3);
  add("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0);
  add("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3, 2, 0, 0);
  const std::pair<const char*, int64_t> e_blocks[] = {{"Mixed_7b", 1280}, {"Mixed_7c", 2048}};
  for (const auto& [b, in] : e_blocks) {
    const std::string p = std::string(b) + ".";
    add(p + "branch1x1", in, 320, 1, 1, 1, 0, 0);
    add(p + "branch3x3_1", in, 384, 1, 1, 1, 0, 0);
    add(p + "branch3x3_2a", 384, 384, 1, 3, 1, 0, 1);
    add(p + "branch3x3_2b", 384, 384, 3, 1, 1, 1, 0);
    add(p + "branch3x3dbl_1", in, 448, 1, 1, 1, 0, 0);
    add(p + "branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1);
    add(p + "branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1);
    add(p + "branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0);
    add(p + "branch_pool", in, 192, 1, 1, 1, 0, 0);
  }
  return s;
}

// pytorch-fid: F.avg_pool2d(x, 3, stride 1, padding 1, count_include_pad=False).
at::Tensor avg_pool_same(const at::Tensor& x) { return at::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, false, false); }

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> FidInception::parameter_shapes() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (const ConvSpec& c : conv_specs()) {
    const std::string& p = c.name;
    out.push_back({p + ".conv.weight", {c.out, c.in, c.kh, c.kw}});
    for (const char* bn : {"weight", "bias", "running_mean", "running_var"}) out.push_back({p + ".bn." + bn, {c.out}});
  }
  return out;
}

FidInception::FidInception(const TensorMap& weights) {
  auto need = [&](const std::string& key, const std::vector<int64_t>& shape) {
    auto it = weights.find(key);
    if (it == weights.end()) throw Error("the FID Inception weights have no tensor '" + key + "'");
    if (it->second.sizes() != at::IntArrayRef(shape))
      throw Error("FID Inception tensor '" + key + "' has shape " + c10::str(it->second.sizes()) + ", expected " +
                  c10::str(at::IntArrayRef(shape)));
    return it->second.to(at::kFloat);
  };
  for (const ConvSpec& c : conv_specs()) {
    const std::string& p = c.name;
    Conv conv;
    conv.weight = need(p + ".conv.weight", {c.out, c.in, c.kh, c.kw});
    conv.gamma = need(p + ".bn.weight", {c.out});
    conv.beta = need(p + ".bn.bias", {c.out});
    conv.mean = need(p + ".bn.running_mean", {c.out});
    conv.var = need(p + ".bn.running_var", {c.out});
    conv.stride = {c.stride, c.stride};
    conv.padding = {c.ph, c.pw};
    convs_.emplace(p, std::move(conv));
  }
}

FidInception FidInception::load(const std::string& path) { return FidInception(load_weights_as_stored(path)); }

// BasicConv2d: conv without bias, BatchNorm (eps 0.001, running statistics), ReLU.
at::Tensor FidInception::run(const std::string& name, const at::Tensor& x) const {
  const Conv& c = convs_.at(name);
  at::Tensor y = at::conv2d(x, c.weight, {}, c.stride, c.padding);
  y = at::batch_norm(y, c.gamma, c.beta, c.mean, c.var, false, 0.0, 1e-3, false);
  return at::relu(y);
}

at::Tensor FidInception::block_a(const std::string& p, const at::Tensor& x) const {
  at::Tensor b1 = run(p + ".branch1x1", x);
  at::Tensor b5 = run(p + ".branch5x5_2", run(p + ".branch5x5_1", x));
  at::Tensor b3 = run(p + ".branch3x3dbl_3", run(p + ".branch3x3dbl_2", run(p + ".branch3x3dbl_1", x)));
  at::Tensor bp = run(p + ".branch_pool", avg_pool_same(x));
  return at::cat({b1, b5, b3, bp}, 1);
}

at::Tensor FidInception::block_b(const std::string& p, const at::Tensor& x) const {
  at::Tensor b3 = run(p + ".branch3x3", x);
  at::Tensor bd = run(p + ".branch3x3dbl_3", run(p + ".branch3x3dbl_2", run(p + ".branch3x3dbl_1", x)));
  return at::cat({b3, bd, at::max_pool2d(x, {3, 3}, {2, 2})}, 1);
}

at::Tensor FidInception::block_c(const std::string& p, const at::Tensor& x) const {
  at::Tensor b1 = run(p + ".branch1x1", x);
  at::Tensor b7 = run(p + ".branch7x7_3", run(p + ".branch7x7_2", run(p + ".branch7x7_1", x)));
  at::Tensor bd = x;
  for (int k = 1; k <= 5; ++k) bd = run(p + ".branch7x7dbl_" + std::to_string(k), bd);
  at::Tensor bp = run(p + ".branch_pool", avg_pool_same(x));
  return at::cat({b1, b7, bd, bp}, 1);
}

at::Tensor FidInception::block_d(const std::string& p, const at::Tensor& x) const {
  at::Tensor b3 = run(p + ".branch3x3_2", run(p + ".branch3x3_1", x));
  at::Tensor b7 = x;
  for (int k = 1; k <= 4; ++k) b7 = run(p + ".branch7x7x3_" + std::to_string(k), b7);
  return at::cat({b3, b7, at::max_pool2d(x, {3, 3}, {2, 2})}, 1);
}

at::Tensor FidInception::block_e(const std::string& p, const at::Tensor& x, bool max_pool) const {
  at::Tensor b1 = run(p + ".branch1x1", x);
  at::Tensor t = run(p + ".branch3x3_1", x);
  at::Tensor b3 = at::cat({run(p + ".branch3x3_2a", t), run(p + ".branch3x3_2b", t)}, 1);
  at::Tensor d = run(p + ".branch3x3dbl_2", run(p + ".branch3x3dbl_1", x));
  at::Tensor bd = at::cat({run(p + ".branch3x3dbl_3a", d), run(p + ".branch3x3dbl_3b", d)}, 1);
  // FIDInceptionE_1 averages without padding; FIDInceptionE_2 (Mixed_7c) max-pools.
  at::Tensor pooled = max_pool ? at::max_pool2d(x, {3, 3}, {1, 1}, {1, 1}) : avg_pool_same(x);
  return at::cat({b1, b3, bd, run(p + ".branch_pool", pooled)}, 1);
}

at::Tensor FidInception::features(const at::Tensor& images01) const {
  if (images01.dim() != 4 || images01.size(1) != 3)
    throw Error("FID Inception needs [N, 3, H, W] images, got " + c10::str(images01.sizes()));
  at::NoGradGuard no_grad;
  at::Tensor x = at::upsample_bilinear2d(images01.to(at::kFloat), {299, 299}, false);
  x = 2 * x - 1;
  x = run("Conv2d_2b_3x3", run("Conv2d_2a_3x3", run("Conv2d_1a_3x3", x)));
  x = at::max_pool2d(x, {3, 3}, {2, 2});
  x = run("Conv2d_4a_3x3", run("Conv2d_3b_1x1", x));
  x = at::max_pool2d(x, {3, 3}, {2, 2});
  for (const char* b : {"Mixed_5b", "Mixed_5c", "Mixed_5d"}) x = block_a(b, x);
  x = block_b("Mixed_6a", x);
  for (const char* b : {"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"}) x = block_c(b, x);
  x = block_d("Mixed_7a", x);
  x = block_e("Mixed_7b", x, false);
  x = block_e("Mixed_7c", x, true);
  return x.mean({2, 3});  // AdaptiveAvgPool2d(1), squeezed
}

at::Tensor FidInception::frame_features(const std::vector<at::Tensor>& frames) const {
  std::vector<at::Tensor> batch;
  bool same_size = true;
  for (const at::Tensor& f : frames) {
    batch.push_back(f.permute({2, 0, 1}).to(at::kFloat).div(255.0));
    same_size = same_size && f.sizes() == frames.front().sizes();
  }
  if (same_size) return features(at::stack(batch));
  std::vector<at::Tensor> one_by_one;  // each is resized to 299 anyway
  for (const at::Tensor& x : batch) one_by_one.push_back(features(x.unsqueeze(0)));
  return at::cat(one_by_one);
}

}  // namespace ma::eval
