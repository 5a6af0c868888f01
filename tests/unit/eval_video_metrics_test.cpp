// FID-VID's 3D ResNet-50 and FVD's I3D against DisCo's own code: the
// networks at reduced widths with random weights, saved in the real files'
// layouts under the real names, and their features for the windows of two
// tiny videos (tests/data/gen/make_video_metric_case.py runs DisCo's
// resnet3d.py, inception3d.py, make_resizer and DatasetFVDVideoFromFramesResize);
// the float PIL bicubic resize; DisCo's window rule; each network's output
// shape on random full-size weights; bad weight files named by key.
#include <gtest/gtest.h>

#include "eval/frame_set.h"
#include "eval/i3d.h"
#include "eval/pil_float_resize.h"
#include "eval/resnet3d.h"
#include "eval/video_features.h"
#include "media/image.h"
#include "weights/weights.h"
#include "test_util.h"
#include "util/error.h"

namespace ma::eval {
namespace {

std::string tiny(const std::string& name) { return test::data_dir() + "/eval/video_tiny/" + name; }

const TensorMap& fixture() {
  static const TensorMap f = load_weights_as_stored(tiny("fixture.safetensors"));
  return f;
}

// The frames of one side, video by video, as eval reads them.
std::vector<std::pair<std::vector<at::Tensor>, std::vector<std::string>>> videos(const std::string& side) {
  std::vector<std::pair<std::vector<at::Tensor>, std::vector<std::string>>> out;
  for (const VideoEntry& v : list_frame_set(tiny(side), "--gt").videos) {
    std::vector<at::Tensor> frames;
    for (const std::string& f : v.frame_files) frames.push_back(read_image_rgb(f));
    out.emplace_back(std::move(frames), v.frame_names);
  }
  return out;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(EvalVideoMetrics, FloatBicubicResizeMatchesPil) {
  const at::Tensor frame = read_image_rgb(tiny("gt/v901/0001.png"));
  const at::Tensor got = resize_float_like_pil(frame.to(at::kFloat), 112, 112).select(2, 0);
  // The same double sums in the same order, stored as float: equal up to a
  // float rounding of values below 256 (3e-5).
  EXPECT_LT(max_abs_diff(got, fixture().at("resize112")), 1e-4);
}

TEST(EvalVideoMetrics, WindowsFollowDiscosFrameNames) {
  std::vector<std::string> names;
  for (int i = 1; i <= 18; ++i) names.push_back("TiktokDance_335_" + std::string(i < 10 ? "000" : "00") + std::to_string(i));
  EXPECT_EQ(video_windows(names, 18).size(), 3u);  // stride 1: N - 15
  EXPECT_EQ(video_windows(names, 18)[1].front(), 1);
  EXPECT_EQ(video_windows(names, 18)[1].back(), 16);
  std::vector<std::string> gap = names;
  gap.erase(gap.begin() + 9);  // frame 10 missing: every window through it is dropped
  EXPECT_TRUE(video_windows(gap, 17).empty());
  EXPECT_TRUE(video_windows({"a", "b"}, 2).empty());     // no numbers: skipped, as DisCo
  EXPECT_EQ(video_windows({}, 20).size(), 5u);            // a video file: by position
  EXPECT_TRUE(video_windows({}, 15).empty());
  std::vector<std::string> wide;  // 0098, 0099, 0100...: the same width across the carry
  for (int i = 90; i < 106; ++i) wide.push_back("f" + std::string(i < 100 ? "00" : "0") + std::to_string(i));
  EXPECT_EQ(video_windows(wide, 16).size(), 1u);
}

TEST(EvalVideoMetrics, Resnet3dMatchesDiscoOnTinyWeights) {
  // Through the real loading path: the legacy torch.save {epoch, arch,
  // state_dict with "module.", optimizer} of kenshohara's train.py.
  const auto net = Resnet3d::load(tiny("weights/resnet-50-kinetics.pth"));
  EXPECT_EQ(net->feature_dim(), 32);
  const auto gt = videos("gt");
  ASSERT_EQ(gt.size(), 2u);
  // The first window's input (channel means per frame: the mean subtraction in float64).
  const at::Tensor in0 = resnet3d_frames(gt[0].first).narrow(1, 0, 16).mean({2, 3});
  EXPECT_LT(max_abs_diff(in0, fixture().at("rn50_in0")), 1e-4);
  for (const char* side : {"pred", "gt"}) {
    SCOPED_TRACE(side);
    VideoFeatures f(net.get(), nullptr);
    for (const auto& [frames, names] : videos(side)) f.add_video(frames, names);
    EXPECT_EQ(f.windows(), 3);
    const at::Tensor want = fixture().at(std::string(side) + "_rn50");
    // float32 convolutions summed in other orders, features ~1e2: 1e-5 relative.
    const double scale = want.abs().max().item<double>();
    EXPECT_LT(max_abs_diff(f.resnet_features(side), want), 1e-5 * scale);
  }
}

TEST(EvalVideoMetrics, I3dMatchesDiscoOnTinyWeights) {
  const auto net = InceptionI3d::load(tiny("weights/i3d_pretrained_400.pt"));
  EXPECT_EQ(net->feature_dim(), 400);
  for (const char* side : {"pred", "gt"}) {
    SCOPED_TRACE(side);
    VideoFeatures f(nullptr, net.get());
    for (const auto& [frames, names] : videos(side)) f.add_video(frames, names);
    const at::Tensor want = fixture().at(std::string(side) + "_i3d");
    const double scale = want.abs().max().item<double>();
    EXPECT_LT(max_abs_diff(f.i3d_features(side), want), 1e-5 * scale);
    // The two sides' logits differ by far more than the tolerance (the test can fail).
  }
  EXPECT_GT(max_abs_diff(fixture().at("pred_i3d"), fixture().at("gt_i3d")), 1e-3);
}

TEST(EvalVideoMetrics, SegmentsOfALongerSampleAreAveraged) {
  const auto net = Resnet3d::load(tiny("weights/resnet-50-kinetics.pth"));
  const at::Tensor clip = resnet3d_frames(videos("gt")[0].first);  // 17 frames: 2 segments, the last padded
  ASSERT_EQ(clip.size(1), 17);
  const at::Tensor second = clip.narrow(1, 16, 1).expand({3, 16, 112, 112});
  const at::Tensor want = net->forward(at::stack({clip.narrow(1, 0, 16), second})).mean(0);
  EXPECT_LT(max_abs_diff(net->sample_feature(clip), want), 1e-4);
}

TensorMap random_weights(const std::map<std::string, std::vector<int64_t>>& shapes) {
  at::manual_seed(3);
  TensorMap w;
  for (const auto& [k, s] : shapes) {
    at::Tensor t = at::randn(s) * 0.05;
    if (k.find("running_var") != std::string::npos) t = t.abs() + 1;
    w[k] = t;
  }
  return w;
}

TEST(EvalVideoMetrics, FullSizeOutputShapesOnRandomWeights) {
  const Resnet3d rn(random_weights(Resnet3d::real_shapes()));
  EXPECT_EQ(rn.forward(at::rand({1, 3, 16, 112, 112})).sizes(), at::IntArrayRef({1, 2048}));
  const InceptionI3d i3d(random_weights(InceptionI3d::real_shapes()));
  // 8 frames keep the test short; 16 (the metric's) end the same way: T' averaged.
  EXPECT_EQ(i3d.forward(at::rand({1, 3, 8, 224, 224}) * 2 - 1).sizes(), at::IntArrayRef({1, 400}));
  EXPECT_NE(error_of([&] { i3d.forward(at::rand({1, 3, 8, 112, 112})); }).find("224x224"), std::string::npos);
  EXPECT_NE(error_of([&] { rn.forward(at::rand({1, 3, 8, 112, 112})); }).find("[N, 3, 16, 112, 112]"), std::string::npos);
}

TEST(EvalVideoMetrics, BadWeightsAreNamedByKey) {
  const TensorMap rn = load_weights_as_stored(tiny("weights/resnet-50-kinetics.pth"));
  ASSERT_TRUE(rn.count("layer2.1.conv2.weight"));  // "module." stripped, optimizer left out
  TensorMap w = rn;
  w.erase("layer2.1.bn2.running_var");
  EXPECT_NE(error_of([&] { Resnet3d net(w); }).find("layer2.1.bn2.running_var"), std::string::npos);
  w = rn;
  w["layer3.0.conv2.weight"] = at::zeros({4, 4, 3, 3, 1});
  EXPECT_NE(error_of([&] { Resnet3d net(w); }).find("layer3.0.conv2.weight"), std::string::npos);
  w = rn;
  w["layer9.0.conv1.weight"] = at::zeros({1});
  EXPECT_NE(error_of([&] { Resnet3d net(w); }).find("layer9.0.conv1.weight"), std::string::npos);
  w = rn;
  w.erase("conv1.weight");
  EXPECT_NE(error_of([&] { Resnet3d net(w); }).find("'conv1.weight'"), std::string::npos);

  const TensorMap i3d = load_weights_as_stored(tiny("weights/i3d_pretrained_400.pt"));
  TensorMap v = i3d;
  v.erase("Mixed_4d.b2b.conv3d.weight");
  EXPECT_NE(error_of([&] { InceptionI3d net(v); }).find("Mixed_4d.b2b.conv3d.weight"), std::string::npos);
  v = i3d;
  v.erase("logits.conv3d.bias");
  EXPECT_NE(error_of([&] { InceptionI3d net(v); }).find("logits.conv3d.bias"), std::string::npos);
  v = i3d;
  v["Mixed_5c.b1b.bn.weight"] = at::zeros({99});
  EXPECT_NE(error_of([&] { InceptionI3d net(v); }).find("Mixed_5c.b1b.bn.weight"), std::string::npos);
}

}  // namespace
}  // namespace ma::eval
