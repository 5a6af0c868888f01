// `magicanimate eval` run as a program: its JSON / CSV equal the goldens of
// tests/data/eval (computed with OpenCV / scikit-image), and every kind of
// bad input gives one line and a non-zero exit, with no output file left.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "media/image.h"
#include "eval/frechet.h"
#include "weights/weights.h"
#include "test_util.h"

namespace ma {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::run_cli;

std::string eval_data(const std::string& name) { return test::data_dir() + "/eval/" + name; }

nlohmann::json goldens() {
  std::ifstream f(eval_data("goldens.json"));
  return nlohmann::json::parse(f);
}

// By value: a range-for over goldens()["x"] would read a destroyed temporary.
nlohmann::json goldens_part(const std::string& key) { return goldens().at(key); }

CliResult run_eval(std::vector<std::string> args) {
  args.insert(args.begin(), "eval");
  return run_cli(args);
}

void copy_folder(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) fs::copy_file(e.path(), fs::path(to) / e.path().filename());
}

// One error line, naming `needle`.
void expect_one_line_error(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(EvalCli, JsonEqualsGoldens) {
  const nlohmann::json g = goldens()["mean"];
  for (const char* protocol : {"disco", "fixed"}) {
    SCOPED_TRACE(protocol);
    CliResult r = run_eval({"--pred", eval_data("pred"), "--gt", eval_data("gt"), "--json", "--protocol", protocol});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json out = nlohmann::json::parse(r.out);
    EXPECT_EQ(out["protocol"], protocol);
    EXPECT_EQ(out["frames"], 4);
    EXPECT_EQ(out["videos"], 1);
    // Means of per-frame float64 values: 1e-9 as in eval_metrics_test.
    EXPECT_NEAR(out["l1"].get<double>(), g["l1"].get<double>(), 1e-9 * g["l1"].get<double>());
    const std::string psnr_key = std::string("psnr_") + protocol;
    EXPECT_NEAR(out["psnr"].get<double>(), g[psnr_key].get<double>(), 1e-9);
    EXPECT_NEAR(out["ssim"].get<double>(), g["ssim"].get<double>(), 1e-9);
    EXPECT_FALSE(out.contains("lpips"));  // not asked for and no --weights
  }
}

TEST(EvalCli, TableAndPerFrameCsv) {
  test::TempDir dir;
  const std::string csv = dir / "frames.csv";
  CliResult r = run_eval({"--pred", eval_data("pred"), "--gt", eval_data("gt"), "--metrics", "psnr,l1",
                          "--per-frame", csv});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("PSNR"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("L1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("SSIM"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(csv + ".partial"));
  std::ifstream in(csv);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header, "frame,l1,psnr");
  const nlohmann::json frames = goldens()["frames"];
  for (const auto& f : frames) {
    ASSERT_TRUE(std::getline(in, line));
    const size_t c1 = line.find(','), c2 = line.find(',', c1 + 1);
    EXPECT_EQ(line.substr(0, c1), f["name"].get<std::string>());
    EXPECT_NEAR(std::stod(line.substr(c1 + 1, c2 - c1 - 1)), f["l1"].get<double>(), 1e-9 * f["l1"].get<double>() + 1e-18);
    EXPECT_NEAR(std::stod(line.substr(c2 + 1)), f["psnr_disco"].get<double>(), 1e-9);
  }
  EXPECT_FALSE(std::getline(in, line));
}

TEST(EvalCli, FolderOfVideosAndMask) {
  // The same frames as two videos (sub-folders) in each set; masks beside them.
  test::TempDir dir;
  for (const char* set : {"pred", "gt", "mask"}) {
    fs::create_directories(dir / (std::string(set) + "/a"));
    fs::create_directories(dir / (std::string(set) + "/b"));
    for (int i = 0; i < 4; ++i) {
      const std::string name = "f00" + std::to_string(i) + ".png";
      fs::copy_file(eval_data(std::string(set) + "/" + name), dir / (std::string(set) + (i < 2 ? "/a/" : "/b/") + name));
    }
  }
  CliResult r = run_eval({"--pred", dir / "pred", "--gt", dir / "gt", "--json", "--mask", dir / "mask"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["frames"], 4);
  EXPECT_EQ(out["videos"], 2);
  double ssim = 0;
  for (const auto& f : goldens_part("frames")) ssim += f["masked"]["ssim"].get<double>() / 4;
  EXPECT_NEAR(out["ssim"].get<double>(), ssim, 1e-9);
}

// --mask-union-first: frame i counts its own mask and frame 0's. The
// prediction differs from the truth only inside frame 0's mask, so frames 1
// and 2 (masks elsewhere) score 0 without it and more than 0 with it.
TEST(EvalCli, MaskUnionFirstAddsTheReferencesRegion) {
  test::TempDir dir;
  for (const char* set : {"pred/v", "gt/v", "mask/v"}) fs::create_directories(dir / set);
  for (int i = 0; i < 3; ++i) {
    const std::string name = "/v/" + std::to_string(i) + ".png";
    at::Tensor gt = at::full({32, 32, 3}, 100, at::kByte), pred = gt.clone(), mask = at::zeros({32, 32, 3}, at::kByte);
    pred.slice(0, 0, 8).slice(1, 0, 8).fill_(200);                                 // the error: top left
    (i == 0 ? mask.slice(0, 0, 8).slice(1, 0, 8) : mask.slice(0, 20, 30).slice(1, 20, 30)).fill_(255);
    write_png(dir / ("gt" + name), gt);
    write_png(dir / ("pred" + name), pred);
    write_png(dir / ("mask" + name), mask);
  }
  auto l1 = [&](bool with_first) {
    std::vector<std::string> args{"--pred", dir / "pred", "--gt", dir / "gt", "--mask", dir / "mask", "--metrics", "l1", "--json"};
    if (with_first) args.push_back("--mask-union-first");
    CliResult r = run_eval(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out).at("l1").get<double>();
  };
  const double plain = l1(false), united = l1(true);
  EXPECT_GT(plain, 0);
  // Frame 0 alone has the error without the flag; all three have it with it
  // (frames 1-2 over a larger region, so less than 3x).
  EXPECT_GT(united, 1.5 * plain);
  expect_one_line_error(run_eval({"--pred", dir / "pred", "--gt", dir / "gt", "--mask-union-first"}),
                        "--mask-union-first needs --mask");

  // --skip-first: frame 0 (the reference) is not scored, but its mask still joins
  // the union. Frames 1-2's own masks miss the error; united with frame 0's they hold it.
  auto skipped = [&](bool with_first) {
    std::vector<std::string> args{"--pred", dir / "pred", "--gt", dir / "gt", "--mask", dir / "mask",
                                  "--metrics", "l1", "--skip-first", "--json"};
    if (with_first) args.push_back("--mask-union-first");
    CliResult r = run_eval(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("frames").get<int>(), 2);
    return j.at("l1").get<double>();
  };
  EXPECT_EQ(skipped(false), 0.0);
  EXPECT_GT(skipped(true), 0.0);
  // Videos of one frame leave nothing to score: one line, not an empty or NaN result.
  fs::create_directories(dir / "one/v");
  fs::copy_file(dir / "gt/v/0.png", dir / "one/v/0.png");
  expect_one_line_error(run_eval({"--pred", dir / "one", "--gt", dir / "one", "--skip-first"}),
                        "--skip-first leaves no frame to score");
}

TEST(EvalCli, BadInputIsOneLine) {
  test::TempDir dir;
  copy_folder(eval_data("gt"), dir / "gt");
  // Unequal counts.
  copy_folder(eval_data("pred"), dir / "fewer");
  fs::remove(dir / "fewer/f003.png");
  expect_one_line_error(run_eval({"--pred", dir / "fewer", "--gt", dir / "gt"}), "frame counts differ");
  // Names that do not pair.
  copy_folder(eval_data("pred"), dir / "renamed");
  fs::rename(dir / "renamed/f001.png", dir / "renamed/g001.png");
  expect_one_line_error(run_eval({"--pred", dir / "renamed", "--gt", dir / "gt"}), "'f002' vs --gt 'f001'");
  // An unreadable frame.
  copy_folder(eval_data("pred"), dir / "broken");
  std::ofstream(dir / "broken/f002.png", std::ios::trunc) << "not a png";
  expect_one_line_error(run_eval({"--pred", dir / "broken", "--gt", dir / "gt"}), "f002.png");
  // A mask of another size than the ground truth.
  fs::create_directories(dir / "mask");
  for (int i = 0; i < 4; ++i)
    fs::copy_file(eval_data("resize/src_23x19_to_40x36.png"), dir / ("mask/f00" + std::to_string(i) + ".png"));
  expect_one_line_error(run_eval({"--pred", eval_data("pred"), "--gt", dir / "gt", "--mask", dir / "mask"}),
                        "is 23x19 but its ground truth is 40x36");
  // Missing paths, unknown metrics.
  expect_one_line_error(run_eval({"--pred", dir / "absent", "--gt", dir / "gt"}), "does not exist");
  expect_one_line_error(run_eval({"--pred", eval_data("pred"), "--gt", dir / "gt", "--metrics", "l1,mse"}),
                        "unknown metric 'mse'");
}

TEST(EvalCli, PredictionsOfAnotherSizeAreResizedLikeDisco) {
  // DisCo cv2.resize()s a prediction to the ground truth's size: a 2x larger
  // copy of gt/ scores as the 2x area-average of itself (not as identical).
  test::TempDir dir;
  fs::create_directories(dir / "pred");
  fs::create_directories(dir / "gt");
  fs::copy_file(eval_data("resize/src_80x72_to_40x36.png"), dir / "pred/x.png");
  fs::copy_file(eval_data("resize/src_80x72_to_40x36.expected.png"), dir / "gt/x.png");
  CliResult r = run_eval({"--pred", dir / "pred", "--gt", dir / "gt", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["psnr"].get<double>(), 100.0);  // resized pred == expected
}

TEST(EvalCli, LpipsEqualsReferencePackage) {
  // tests/data/eval/lpips_tiny: a narrow VGG under the real file names (trunk as
  // a zip torch.save, heads in the legacy format) and the reference lpips
  // package's value for each frame pair (make_lpips_fixture.py). float32
  // networks on both sides: 1e-5 relative (plus 1e-7 absolute for tiny values).
  std::ifstream f(eval_data("lpips_tiny/per_frame.json"));
  const nlohmann::json expected = nlohmann::json::parse(f);
  for (const char* protocol : {"disco", "fixed"}) {
    SCOPED_TRACE(protocol);
    test::TempDir dir;
    CliResult r = run_eval({"--pred", eval_data("pred"), "--gt", eval_data("gt"), "--weights",
                            eval_data("lpips_tiny"), "--metrics", "lpips", "--protocol", protocol, "--per-frame",
                            dir / "f.csv", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(dir / "f.csv");
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "frame,lpips");
    double mean = 0;
    while (std::getline(in, line)) {
      const std::string name = line.substr(0, line.find(','));
      const double got = std::stod(line.substr(line.find(',') + 1));
      const double want = expected.at(name).at(protocol).get<double>();
      EXPECT_NEAR(got, want, 1e-5 * want + 1e-7) << name;
      mean += want / 4;
    }
    EXPECT_NEAR(nlohmann::json::parse(r.out)["lpips"].get<double>(), mean, 1e-5 * mean);
  }
}

TEST(EvalCli, PrepareGtWritesDiscoGroundTruth) {
  // TikTok layout: <video>/images/<frame>.png beside masks/; the output is
  // <video>/<frame>.png at 256x256 (the crop itself is checked bit-exactly
  // against torchvision in eval_metrics_test).
  test::TempDir dir;
  fs::create_directories(dir / "tiktok/00001/images");
  fs::create_directories(dir / "tiktok/00001/masks");
  fs::copy_file(eval_data("prepare/tiktok_50x70.png"), dir / "tiktok/00001/images/0001.png");
  fs::copy_file(eval_data("prepare/tiktok_71x45.png"), dir / "tiktok/00001/images/0002.png");
  fs::copy_file(eval_data("prepare/tiktok_40x40.png"), dir / "tiktok/00001/masks/0001.png");
  CliResult r = run_cli({"eval", "--prepare-gt", dir / "tiktok", "--out", dir / "gt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote 2 frames of 1 videos"), std::string::npos) << r.out;
  std::vector<std::string> files = test::files_under(dir / "gt");
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"00001/0001.png", "00001/0002.png"}));
  CliResult probe = run_eval({"--pred", dir / "gt/00001", "--gt", dir / "gt/00001", "--json"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  EXPECT_EQ(nlohmann::json::parse(probe.out)["l1"].get<double>(), 0.0);
  expect_one_line_error(run_cli({"eval", "--prepare-gt", dir / "tiktok"}), "--prepare-gt needs --out");
}

TEST(EvalCli, MissingWeightsRefuseOnlyThatMetric) {
  test::TempDir weights;
  std::ofstream(weights / "vgg.pth") << "heads only";  // the trunk file is absent
  CliResult r = run_eval({"--pred", eval_data("pred"), "--gt", eval_data("gt"), "--metrics", "l1,lpips", "--json",
                          "--weights", weights.path()});
  EXPECT_EQ(r.exit_code, 1);
  expect_one_line_error(r, weights / "vgg16-397923af.pth");
  const nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_TRUE(out.contains("l1"));
  EXPECT_FALSE(out.contains("lpips"));
  // Without --weights at all, and for a metric whose network is not built in yet.
  expect_one_line_error(run_eval({"--pred", eval_data("pred"), "--gt", eval_data("gt"), "--metrics", "lpips"}),
                        "needs --weights DIR holding vgg16-397923af.pth");
}

TEST(EvalCli, VideoMetricsOnTinyNetworks) {
  // tests/data/eval/video_tiny: DisCo's 3D ResNet and I3D at reduced widths
  // under the real file names, two videos of 17 and 16 frames (2 + 1
  // windows a side) and DisCo's features of each window
  // (make_video_metric_case.py). The Fréchet distance of those features is
  // the expected value; features agree to ~1e-5 relative (see
  // eval_video_metrics_test), the distance of 3 samples to 1e-3 relative.
  CliResult r = run_eval({"--pred", eval_data("video_tiny/pred"), "--gt", eval_data("video_tiny/gt"), "--metrics",
                          "fid-vid,fvd", "--weights", eval_data("video_tiny/weights"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["videos"], 2);
  EXPECT_EQ(out["frames"], 33);
  const TensorMap f = load_weights_as_stored(eval_data("video_tiny/fixture.safetensors"));
  for (const auto& [metric, key] : {std::pair<std::string, std::string>{"fid-vid", "rn50"}, {"fvd", "i3d"}}) {
    SCOPED_TRACE(metric);
    const double want =
        eval::frechet_distance(eval::fit_gaussian(f.at("pred_" + key)), eval::fit_gaussian(f.at("gt_" + key)));
    ASSERT_TRUE(out.contains(metric)) << r.out;
    EXPECT_GT(want, 0);
    EXPECT_NEAR(out[metric].get<double>(), want, 1e-3 * want);
  }
  // Too short for two 16-frame windows: one line.
  expect_one_line_error(run_eval({"--pred", eval_data("pred"), "--gt", eval_data("gt"), "--metrics", "fvd",
                                  "--weights", eval_data("video_tiny/weights")}),
                        "FVD needs at least 2 windows of 16 consecutive frames in --pred, found 0");
  test::TempDir empty;
  CliResult missing = run_eval({"--pred", eval_data("video_tiny/pred"), "--gt", eval_data("video_tiny/gt"), "--metrics",
                                "l1,fid-vid", "--weights", empty.path(), "--json"});
  expect_one_line_error(missing, empty / "resnet-50-kinetics.pth");
  EXPECT_TRUE(nlohmann::json::parse(missing.out).contains("l1"));
}

}  // namespace
}  // namespace ma
