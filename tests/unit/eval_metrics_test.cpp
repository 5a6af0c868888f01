// The evaluation metrics against independent oracles: goldens computed by
// DisCo's own expressions with OpenCV / scikit-image / numpy
// (tests/data/gen/make_eval_goldens.py), closed forms for PSNR's uint8 quirk,
// SSIM on constant images and the Fréchet distance, the real LPIPS head files
// through the legacy torch.save reader, and LPIPS against the reference
// implementation on a narrow random-weight VGG (tests/data/gen/make_lpips_fixture.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/fid_inception.h"
#include "eval/frame_set.h"
#include "eval/frechet.h"
#include "eval/lpips.h"
#include "eval/pixel_metrics.h"
#include "eval/prepare_gt.h"
#include "media/image.h"
#include "weights/weights.h"
#include "temp_dir.h"
#include "test_util.h"
#include "util/error.h"

namespace ma::eval {
namespace {

std::string eval_data(const std::string& name) { return test::data_dir() + "/eval/" + name; }

nlohmann::json goldens() {
  std::ifstream f(eval_data("goldens.json"));
  return nlohmann::json::parse(f);
}

// By value: a range-for over goldens()["x"] would read a destroyed temporary.
nlohmann::json goldens_part(const std::string& key) { return goldens().at(key); }

at::Tensor constant_frame(int64_t h, int64_t w, int value) { return at::full({h, w, 3}, value, at::kByte); }

// Python computes in float64 with a different summation order: agreement to
// 1e-9 (absolute; L1 ~1e-4 is compared relative) leaves room only for rounding.
constexpr double kTol = 1e-9;

TEST(EvalPixelMetrics, MatchOpenCvScikitImageGoldens) {
  const nlohmann::json g = goldens();
  ASSERT_EQ(g["frames"].size(), 4u);
  for (const auto& f : g["frames"]) {
    const std::string name = f["name"];
    SCOPED_TRACE(name);
    const at::Tensor pred = read_image_rgb(eval_data("pred/" + name + ".png"));
    const at::Tensor gt = read_image_rgb(eval_data("gt/" + name + ".png"));
    EXPECT_NEAR(l1_disco(pred, gt), f["l1"].get<double>(), kTol * f["l1"].get<double>() + 1e-18);
    EXPECT_NEAR(psnr(pred, gt, Protocol::Disco), f["psnr_disco"].get<double>(), kTol);
    EXPECT_NEAR(psnr(pred, gt, Protocol::Fixed), f["psnr_fixed"].get<double>(), kTol);
    EXPECT_NEAR(ssim(pred, gt), f["ssim"].get<double>(), kTol);
    EXPECT_EQ(gray_like_opencv(pred).to(at::kLong).sum().item<int64_t>(), f["gray_sum_pred"].get<int64_t>());
  }
}

TEST(EvalPixelMetrics, MaskRestrictsToWhitePixels) {
  const nlohmann::json g = goldens();
  for (const auto& f : g["frames"]) {
    const std::string name = f["name"];
    SCOPED_TRACE(name);
    const at::Tensor pred = read_image_rgb(eval_data("pred/" + name + ".png"));
    const at::Tensor gt = read_image_rgb(eval_data("gt/" + name + ".png"));
    const at::Tensor mask = read_image_rgb(eval_data("mask/" + name + ".png")).select(2, 0).gt(127);
    const auto& m = f["masked"];
    EXPECT_NEAR(l1_disco(pred, gt, mask), m["l1"].get<double>(), kTol * m["l1"].get<double>() + 1e-18);
    EXPECT_NEAR(psnr(pred, gt, Protocol::Disco, mask), m["psnr_disco"].get<double>(), kTol);
    EXPECT_NEAR(psnr(pred, gt, Protocol::Fixed, mask), m["psnr_fixed"].get<double>(), kTol);
    EXPECT_NEAR(ssim(pred, gt, mask), m["ssim"].get<double>(), kTol);
  }
  const at::Tensor none = at::zeros({36, 40}, at::kBool);
  const at::Tensor a = constant_frame(36, 40, 1);
  EXPECT_THROW(l1_disco(a, a, none), Error);
}

TEST(EvalPixelMetrics, ResizeIsBitExactWithOpenCv) {
  ASSERT_EQ(goldens_part("resize").size(), 4u);
  for (const auto& r : goldens_part("resize")) {
    SCOPED_TRACE(r["source"].get<std::string>());
    const at::Tensor src = read_image_rgb(eval_data("resize/" + r["source"].get<std::string>()));
    const at::Tensor expected = read_image_rgb(eval_data("resize/" + r["expected"].get<std::string>()));
    const at::Tensor got = resize_like_opencv(src, r["width"].get<int64_t>(), r["height"].get<int64_t>());
    ASSERT_EQ(got.sizes(), expected.sizes());
    const int64_t differing = got.ne(expected).sum().item<int64_t>();
    EXPECT_EQ(differing, 0) << "max difference "
                            << (got.to(at::kInt) - expected.to(at::kInt)).abs().max().item<int>();
  }
}

TEST(EvalPixelMetrics, PsnrWrapAroundQuirk) {
  // Constant frames (pred, gt) -> (disco, fixed), from ../shared/spec/eval.md §4 (pure-Python values).
  struct Case {
    int pred, gt;
    double disco, fixed;
  };
  const Case cases[] = {{0, 16, 100.0, 24.04840395556061},
                        {0, 1, 48.1308036086791, 48.1308036086791},
                        {20, 0, 26.547178687726607, 22.11020369539948},
                        {200, 100, 36.08960378211985, 8.130803608679102}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.pred) + " vs " + std::to_string(c.gt));
    const at::Tensor a = constant_frame(8, 8, c.pred), b = constant_frame(8, 8, c.gt);
    EXPECT_NEAR(psnr(a, b, Protocol::Disco), c.disco, kTol);
    EXPECT_NEAR(psnr(a, b, Protocol::Fixed), c.fixed, kTol);
  }
  EXPECT_EQ(psnr(constant_frame(8, 8, 7), constant_frame(8, 8, 7), Protocol::Fixed), 100.0);
}

TEST(EvalPixelMetrics, ClosedForms) {
  // L1 of a constant difference of 10 is 10 / (H*W): resolution-dependent, as DisCo's.
  EXPECT_DOUBLE_EQ(l1_disco(constant_frame(256, 256, 10), constant_frame(256, 256, 0)), 1.52587890625e-04);
  EXPECT_DOUBLE_EQ(l1_disco(constant_frame(512, 512, 0), constant_frame(512, 512, 10)), 3.814697265625e-05);
  // OpenCV's fixed-point grey (the spec's example; the same under 14- and 15-bit coefficients).
  at::Tensor px = at::empty({1, 1, 3}, at::kByte);
  px[0][0][0] = 200, px[0][0][1] = 100, px[0][0][2] = 50;
  EXPECT_EQ(gray_like_opencv(px).item<int>(), 124);
  // SSIM of constant images: (2ab + C1) / (a^2 + b^2 + C1), C1 = 6.5025.
  auto grey = [](int v) { return at::full({12, 10}, v, at::kDouble); };
  EXPECT_NEAR(ssim_gray(grey(100), grey(110)), 0.9954764440915066, kTol);
  EXPECT_NEAR(ssim_gray(grey(128), grey(64)), 0.8000634808210918, kTol);
  EXPECT_NEAR(ssim_gray(grey(0), grey(255)), 9.999000099990003e-05, kTol);
  EXPECT_DOUBLE_EQ(ssim_gray(grey(77), grey(77)), 1.0);
  EXPECT_THROW(ssim_gray(at::zeros({6, 10}, at::kDouble), at::zeros({6, 10}, at::kDouble)), Error);
  EXPECT_THROW(l1_disco(constant_frame(4, 4, 0), constant_frame(4, 5, 0)), Error);
}

Gaussian gaussian(std::vector<double> mu, std::vector<double> sigma) {
  const int64_t d = static_cast<int64_t>(mu.size());
  return {at::tensor(mu, at::kDouble), at::tensor(sigma, at::kDouble).view({d, d})};
}

TEST(EvalFrechet, ClosedForms) {
  // 1-D: (mu1 - mu2)^2 + (s1 - s2)^2 with variances s^2.
  EXPECT_NEAR(frechet_distance(gaussian({1}, {4}), gaussian({3}, {9})), 4 + 1, 1e-12);
  // Diagonal: sum (mu_i diff)^2 + sum (sqrt a_i - sqrt b_i)^2.
  EXPECT_NEAR(frechet_distance(gaussian({0, 1}, {4, 0, 0, 1}), gaussian({1, 1}, {1, 0, 0, 9})), 1 + 1 + 4, 1e-12);
  // Non-diagonal (values from the spec, computed independently).
  EXPECT_NEAR(frechet_distance(gaussian({0, 0}, {2, 1, 1, 2}), gaussian({0, 0}, {1, 0, 0, 1})), 0.5358983848622456,
              1e-12);
  EXPECT_NEAR(frechet_distance(gaussian({0, 0}, {2, 1, 1, 2}), gaussian({0, 0}, {1, 0, 0, 4})), 0.7712204476543416,
              1e-12);
  // pytorch-fid's own test (mu 0 vs 1, identity covariances: the distance is
  // the dimension), at 256-d instead of 2048 to keep the test quick.
  const Gaussian a{at::zeros({256}, at::kDouble), at::eye(256, at::kDouble)};
  const Gaussian b{at::ones({256}, at::kDouble), at::eye(256, at::kDouble)};
  EXPECT_NEAR(frechet_distance(a, b), 256.0, 1e-9);
}

TEST(EvalFrechet, CovarianceConventionAndFewerSamplesThanDimensions) {
  // np.cov(rowvar=False) divides by N - 1: [0, .5, 1] in each dimension -> 0.25 everywhere.
  const at::Tensor f = at::tensor({0.0, 0.0, 0.5, 0.5, 1.0, 1.0}, at::kDouble).view({3, 2});
  const Gaussian g = fit_gaussian(f);
  EXPECT_TRUE(at::allclose(g.sigma, at::full({2, 2}, 0.25, at::kDouble), 0, 1e-15));
  EXPECT_THROW(fit_gaussian(f.narrow(0, 0, 1)), Error);

  // N = 6 samples in 40 dimensions: both covariances have rank 5. Scaled
  // features Y = kX + c give S2 = k^2 S1, so tr sqrt(S1 S2) = k tr S1 and the
  // distance is |c|^2 + (1 - k)^2 tr S1 exactly, singular or not.
  at::manual_seed(3);
  at::Tensor x = at::randn({6, 40}, at::kDouble);
  x = x - x.mean(0);  // mean 0, so the means differ by exactly `shift`
  const double k = 1.7;
  const at::Tensor shift = at::linspace(-1, 1, 40, at::kDouble);
  const Gaussian gx = fit_gaussian(x), gy = fit_gaussian(x * k + shift);
  const double expected = shift.dot(shift).item<double>() + (1 - k) * (1 - k) * gx.sigma.trace().item<double>();
  EXPECT_NEAR(frechet_distance(gx, gy), expected, 1e-9 * expected);
  EXPECT_NEAR(frechet_distance(gx, gx), 0.0, 1e-9);
}

// ---- LPIPS ----------------------------------------------------------------

TEST(EvalLpips, LegacyReaderOnTheRealHeadFiles) {
  // Per-layer sums from ../shared/spec/eval.md §2 (a pure-Python parse), 6 decimals.
  struct Heads {
    const char* file;
    std::vector<int64_t> channels;
    std::vector<double> sums;
  };
  const Heads files[] = {
      {"vgg.pth", {64, 128, 256, 512, 512}, {6.925992, 8.858334, 17.515006, 51.521323, 47.034854}},
      {"alex.pth", {64, 192, 384, 256, 256}, {2.349532, 16.143027, 39.268439, 27.197178, 20.317177}}};
  for (const Heads& h : files) {
    SCOPED_TRACE(h.file);
    const TensorMap heads = load_weights_as_stored(eval_data(std::string("lpips_v0.1/") + h.file));
    ASSERT_EQ(heads.size(), 5u);
    for (size_t k = 0; k < 5; ++k) {
      const at::Tensor& w = heads.at("lin" + std::to_string(k) + ".model.1.weight");
      EXPECT_EQ(w.scalar_type(), at::kFloat);
      EXPECT_EQ(w.sizes(), at::IntArrayRef({1, h.channels[k], 1, 1}));
      EXPECT_NEAR(w.sum().item<double>(), h.sums[k], 5e-6);
    }
  }
  const at::Tensor lin0 = load_weights_as_stored(eval_data("lpips_v0.1/vgg.pth")).at("lin0.model.1.weight").view(-1);
  EXPECT_NEAR(lin0[0].item<double>(), 0.050112, 5e-7);
  EXPECT_NEAR(lin0[1].item<double>(), 0.039312, 5e-7);
  EXPECT_NEAR(lin0[2].item<double>(), 0.046401, 5e-7);
}

TEST(EvalLpips, LegacyReaderRefusesDamagedFiles) {
  std::ifstream in(eval_data("lpips_v0.1/vgg.pth"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  test::TempDir dir;
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  };
  auto message = [](const std::string& path) {
    try {
      load_weights_as_stored(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(write("cut.pth", bytes.substr(0, bytes.size() - 100))).find("truncated inside storage"),
            std::string::npos);
  EXPECT_NE(message(write("head.pth", bytes.substr(0, 30))).find("truncated pickle"), std::string::npos);
  std::string wrong_magic = bytes;
  wrong_magic[5] ^= 1;
  EXPECT_NE(message(write("magic.pth", wrong_magic)).find("magic number"), std::string::npos);
}

LpipsVgg random_lpips(const std::vector<int64_t>& widths) {
  at::manual_seed(11);
  TensorMap trunk, heads;
  const std::vector<std::vector<int>> convs = {{0, 2}, {5, 7}, {10, 12, 14}, {17, 19, 21}, {24, 26, 28}};
  int64_t in = 3;
  for (size_t s = 0; s < convs.size(); ++s) {
    for (int i : convs[s]) {
      trunk["features." + std::to_string(i) + ".weight"] = at::randn({widths[s], in, 3, 3}) * 0.3;
      trunk["features." + std::to_string(i) + ".bias"] = at::randn({widths[s]}) * 0.1;
      in = widths[s];
    }
    heads["lin" + std::to_string(s) + ".model.1.weight"] = at::rand({1, widths[s], 1, 1});
  }
  return LpipsVgg(trunk, heads);
}

TEST(EvalLpips, IdenticalImagesScoreZeroAndShapes) {
  const LpipsVgg net = random_lpips({4, 8, 8, 16, 16});
  at::manual_seed(5);
  const at::Tensor x = at::rand({2, 3, 32, 48}), y = at::rand({2, 3, 32, 48});
  const std::vector<at::Tensor> f = net.features(x);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].sizes(), at::IntArrayRef({2, 4, 32, 48}));
  EXPECT_EQ(f[4].sizes(), at::IntArrayRef({2, 16, 2, 3}));
  EXPECT_EQ(net.forward(x, x).abs().max().item<double>(), 0.0);
  const at::Tensor d = net.forward(x, y);
  EXPECT_EQ(d.sizes(), at::IntArrayRef({2}));
  EXPECT_GT(d.min().item<double>(), 0.0);
  const at::Tensor frame = at::randint(0, 256, {32, 48, 3}).to(at::kByte);
  EXPECT_EQ(net.distance(frame, frame, Protocol::Disco), 0.0);
  EXPECT_THROW(net.forward(x, y.narrow(2, 0, 16)), Error);
}

TEST(EvalLpips, MissingOrMisshapedWeightsAreNamed) {
  TensorMap trunk, heads;
  try {
    LpipsVgg net(trunk, heads);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("features.0.weight"), std::string::npos) << e.what();
  }
}

TEST(EvalLpips, MatchesReferenceImplementationOnNarrowVgg) {
  // Fixture: the reference lpips.LPIPS(net='vgg') with torchvision's vgg16
  // layer layout at widths (4, 8, 8, 16, 16), random weights, real heads cut
  // to those widths; outputs for [0, 1] inputs (DisCo's call) and with
  // normalize=True. float32 on both sides: 1e-5 relative covers summation order.
  const TensorMap fx = load_weights_as_stored(eval_data("lpips_tiny/fixture.safetensors"));
  TensorMap trunk, heads;
  for (const auto& [k, v] : fx) {
    if (k.rfind("trunk.", 0) == 0) trunk[k.substr(6)] = v;
    if (k.rfind("heads.", 0) == 0) heads[k.substr(6)] = v;
  }
  const LpipsVgg net(trunk, heads);
  const at::Tensor in0 = fx.at("in0"), in1 = fx.at("in1");
  const std::vector<at::Tensor> f = net.features(in0);
  for (size_t k = 0; k < f.size(); ++k)
    test::expect_close(f[k], fx.at("feature" + std::to_string(k)), 1e-5, "feature " + std::to_string(k));
  test::expect_close(net.forward(in0, in1), fx.at("lpips_unit_input").view(-1), 1e-5, "lpips [0,1]");
  test::expect_close(net.forward(in0 * 2 - 1, in1 * 2 - 1), fx.at("lpips_normalized").view(-1), 1e-5,
                     "lpips normalize=True");
}

}  // namespace
}  // namespace ma::eval

namespace ma::eval {
namespace {

// The formula of tests/data/gen/make_fid_fixture.py: the same weights without
// committing 91 MB of them.
at::Tensor formula_tensor(const std::string& name, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  int s = 0;
  for (unsigned char c : name) s += c;
  s %= 1000;
  const at::Tensor base = at::sin(at::arange(n, at::kDouble) * 0.61 + 0.37 * s).view(shape);
  auto ends = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  at::Tensor t;
  if (ends("conv.weight")) t = 2 * base / std::sqrt(static_cast<double>(shape[1] * shape[2] * shape[3]));
  else if (ends("bn.weight")) t = 1 + 0.2 * base;
  else if (ends("bn.bias") || ends("running_mean")) t = 0.1 * base;
  else if (ends("running_var")) t = 1 + 0.5 * base * base;
  else t = 0.01 * base;
  return t.to(at::kFloat);
}

TEST(EvalFid, MatchesPytorchFidOnFormulaWeights) {
  TensorMap weights;
  for (const auto& [name, shape] : FidInception::parameter_shapes()) weights[name] = formula_tensor(name, shape);
  const FidInception net(weights);
  const TensorMap fx = load_weights_as_stored(eval_data("fid_tiny/fixture.safetensors"));
  const at::Tensor pool3 = net.features(fx.at("in"));
  EXPECT_EQ(pool3.sizes(), at::IntArrayRef({2, 2048}));
  // float32 through ~20 layers on both sides with the same kernels; 1e-4 of
  // the features' scale allows for different convolution algorithms.
  test::expect_close(pool3, fx.at("pool3"), 1e-4, "pool3");
  // Frames go through ToTensor first: the same numbers from uint8 frames.
  const at::Tensor frames = fx.at("in").mul(255).round().to(at::kByte).permute({0, 2, 3, 1});
  test::expect_close(net.frame_features({frames[0], frames[1]}), fx.at("pool3"), 1e-4, "frame_features");
}

TEST(EvalFid, MissingOrMisshapedWeightsAreNamed) {
  TensorMap weights;
  for (const auto& [name, shape] : FidInception::parameter_shapes()) weights[name] = at::zeros(shape);
  weights.erase("Mixed_6c.branch7x7dbl_3.bn.running_var");
  try {
    FidInception net(weights);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Mixed_6c.branch7x7dbl_3.bn.running_var"), std::string::npos) << e.what();
  }
  weights["Mixed_6c.branch7x7dbl_3.bn.running_var"] = at::zeros({7});
  EXPECT_THROW(FidInception net(weights), Error);
}

}  // namespace
}  // namespace ma::eval

namespace ma::eval {
namespace {

TEST(EvalPrepareGt, MatchesTorchvisionRandomResizedCrop) {
  ASSERT_EQ(goldens_part("prepare").size(), 3u);
  for (const auto& p : goldens_part("prepare")) {
    SCOPED_TRACE(p["source"].get<std::string>());
    const at::Tensor src = read_image_rgb(eval_data("prepare/" + p["source"].get<std::string>()));
    const at::Tensor expected = read_image_rgb(eval_data("prepare/" + p["expected"].get<std::string>()));
    const at::Tensor got = disco_gt_frame(src, p["size"].get<int64_t>());
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_EQ(got.ne(expected).sum().item<int64_t>(), 0)
        << "max difference " << (got.to(at::kInt) - expected.to(at::kInt)).abs().max().item<int>();
  }
}

}  // namespace
}  // namespace ma::eval
