#include "eval/i3d.h"

#include "weights/weights.h"
#include "util/error.h"

namespace ma::eval {
namespace {

const char* const kWhat = "the I3D weights (i3d_pretrained_400.pt)";
const char* const kMixed[] = {"Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d",
                              "Mixed_4e", "Mixed_4f", "Mixed_5b", "Mixed_5c"};
const char* const kBranches[] = {"b0", "b1a", "b1b", "b2a", "b2b", "b3b"};

// MaxPool3dSamePadding / Unit3D.compute_pad for one dimension.
int64_t same_pad(int64_t size, int64_t k, int64_t s) {
  return size % s == 0 ? std::max<int64_t>(k - s, 0) : std::max<int64_t>(k - size % s, 0);
}

// F.pad(x, (w_f, w_b, h_f, h_b, t_f, t_b)) with zeros, as both classes do.
at::Tensor pad_same(const at::Tensor& x, const Dims3& k, const Dims3& s) {
  std::vector<int64_t> pad;
  for (int d = 2; d >= 0; --d) {
    const int64_t p = same_pad(x.size(2 + d), k[d], s[d]);
    pad.push_back(p / 2);
    pad.push_back(p - p / 2);
  }
  return at::constant_pad_nd(x, pad, 0);
}

at::Tensor max_pool_same(const at::Tensor& x, const Dims3& k, const Dims3& s) {
  return at::max_pool3d(pad_same(x, k, s), {k[0], k[1], k[2]}, {s[0], s[1], s[2]});
}

std::string conv_key(const std::string& unit) { return unit + ".conv3d.weight"; }

}  // namespace

I3dUnit::I3dUnit(int64_t in, int64_t out, Dims3 kernel, Dims3 stride, bool batch_norm_relu) {
  conv3d = register_module("conv3d", std::make_unique<Conv3d>(in, out, kernel, stride, Dims3{0, 0, 0}, !batch_norm_relu));
  if (batch_norm_relu) bn = register_module("bn", std::make_unique<BatchNorm3d>(out, 1e-3));
}

at::Tensor I3dUnit::forward(const at::Tensor& x) const {
  at::Tensor y = conv3d->forward(pad_same(x, conv3d->kernel, conv3d->stride));
  return bn ? at::relu(bn->forward(y)) : y;
}

I3dMixed::I3dMixed(int64_t in, const std::array<int64_t, 6>& w) {
  const Dims3 one{1, 1, 1}, three{3, 3, 3};
  b0 = register_module("b0", std::make_unique<I3dUnit>(in, w[0], one, one, true));
  b1a = register_module("b1a", std::make_unique<I3dUnit>(in, w[1], one, one, true));
  b1b = register_module("b1b", std::make_unique<I3dUnit>(w[1], w[2], three, one, true));
  b2a = register_module("b2a", std::make_unique<I3dUnit>(in, w[3], one, one, true));
  b2b = register_module("b2b", std::make_unique<I3dUnit>(w[3], w[4], three, one, true));
  b3b = register_module("b3b", std::make_unique<I3dUnit>(in, w[5], one, one, true));
  out_ = w[0] + w[2] + w[4] + w[5];
}

at::Tensor I3dMixed::forward(const at::Tensor& x) const {
  const at::Tensor pooled = max_pool_same(x, {3, 3, 3}, {1, 1, 1});  // b3a
  return at::cat({b0->forward(x), b1b->forward(b1a->forward(x)), b2b->forward(b2a->forward(x)), b3b->forward(pooled)}, 1);
}

InceptionI3d::InceptionI3d(const TensorMap& w) {
  struct Stem {
    const char* name;
    Dims3 kernel, stride;
  };
  const Stem stems[] = {{"Conv3d_1a_7x7", {7, 7, 7}, {2, 2, 2}},
                        {"Conv3d_2b_1x1", {1, 1, 1}, {1, 1, 1}},
                        {"Conv3d_2c_3x3", {3, 3, 3}, {1, 1, 1}}};
  int64_t in = 3;
  for (const Stem& s : stems) {
    const int64_t out = shape_in(w, conv_key(s.name), kWhat).at(0);
    stem_.emplace_back(s.name, register_module(s.name, std::make_unique<I3dUnit>(in, out, s.kernel, s.stride, true)));
    in = out;
  }
  for (const char* m : kMixed) {
    std::array<int64_t, 6> widths{};
    for (size_t b = 0; b < 6; ++b)
      widths[b] = shape_in(w, conv_key(std::string(m) + "." + kBranches[b]), kWhat).at(0);
    mixed_.push_back(register_module(m, std::make_unique<I3dMixed>(in, widths)));
    in = mixed_.back()->out_channels();
  }
  classes_ = shape_in(w, conv_key("logits"), kWhat).at(0);
  logits_ = register_module("logits", std::make_unique<I3dUnit>(in, classes_, Dims3{1, 1, 1}, Dims3{1, 1, 1}, false));
  load_metric_net(*this, w, kWhat);
}

std::unique_ptr<InceptionI3d> InceptionI3d::load(const std::string& path) {
  return std::make_unique<InceptionI3d>(load_weights_as_stored(path));
}

std::map<std::string, std::vector<int64_t>> InceptionI3d::real_shapes() {
  std::map<std::string, std::vector<int64_t>> s;
  auto unit = [&](const std::string& p, int64_t in, int64_t out, int64_t k) {
    s[p + ".conv3d.weight"] = {out, in, k, k, k};
    for (const char* n : {"weight", "bias", "running_mean", "running_var"}) s[p + ".bn." + n] = {out};
  };
  unit("Conv3d_1a_7x7", 3, 64, 7);
  unit("Conv3d_2b_1x1", 64, 64, 1);
  unit("Conv3d_2c_3x3", 64, 192, 3);
  // InceptionI3d.__init__'s widths.
  const std::array<int64_t, 6> widths[] = {{64, 96, 128, 16, 32, 32},    {128, 128, 192, 32, 96, 64},
                                           {192, 96, 208, 16, 48, 64},   {160, 112, 224, 24, 64, 64},
                                           {128, 128, 256, 24, 64, 64},  {112, 144, 288, 32, 64, 64},
                                           {256, 160, 320, 32, 128, 128}, {256, 160, 320, 32, 128, 128},
                                           {384, 192, 384, 48, 128, 128}};
  int64_t in = 192;
  for (size_t m = 0; m < 9; ++m) {
    const std::string p = kMixed[m];
    const auto& c = widths[m];
    unit(p + ".b0", in, c[0], 1);
    unit(p + ".b1a", in, c[1], 1);
    unit(p + ".b1b", c[1], c[2], 3);
    unit(p + ".b2a", in, c[3], 1);
    unit(p + ".b2b", c[3], c[4], 3);
    unit(p + ".b3b", in, c[5], 1);
    in = c[0] + c[2] + c[4] + c[5];
  }
  s["logits.conv3d.weight"] = {400, 1024, 1, 1, 1};
  s["logits.conv3d.bias"] = {400};
  return s;
}

at::Tensor InceptionI3d::forward(const at::Tensor& x) const {
  if (x.dim() != 5 || x.size(1) != 3) throw Error("I3D takes [N, 3, T, H, W] clips, got " + c10::str(x.sizes()));
  at::Tensor y = x;
  // VALID_ENDPOINTS order: Conv3d_1a, MaxPool3d_2a, Conv3d_2b, Conv3d_2c, MaxPool3d_3a, Mixed_3b, 3c,
  // MaxPool3d_4a, Mixed_4b..4f, MaxPool3d_5a, Mixed_5b, 5c.
  y = stem_[0].second->forward(y);
  y = max_pool_same(y, {1, 3, 3}, {1, 2, 2});
  y = stem_[1].second->forward(y);
  y = stem_[2].second->forward(y);
  y = max_pool_same(y, {1, 3, 3}, {1, 2, 2});
  for (size_t m = 0; m < mixed_.size(); ++m) {
    if (m == 2) y = max_pool_same(y, {3, 3, 3}, {2, 2, 2});
    if (m == 7) y = max_pool_same(y, {2, 2, 2}, {2, 2, 2});
    y = mixed_[m]->forward(y);
  }
  // AvgPool3d((1, 7, 7), stride 1) then squeeze(3).squeeze(3): one position only for a 7x7 map.
  if (y.size(3) != 7 || y.size(4) != 7)
    throw Error("I3D needs 224x224 frames (a 7x7 map before its 7x7 average pool), got " + std::to_string(x.size(3)) +
                "x" + std::to_string(x.size(4)));
  y = logits_->forward(at::avg_pool3d(y, {1, 7, 7}, {1, 1, 1}));                   // [N, classes, T', 1, 1]
  return y.squeeze(4).squeeze(3).mean(2);  // spatial squeeze, mean over time
}

}  // namespace ma::eval
