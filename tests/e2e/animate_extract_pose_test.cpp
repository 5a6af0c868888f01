// `magicanimate animate --motion RAW --extract-pose WEIGHTS`: the DensePose
// motion is made first (tiny random detectron2 fixture weights) and the tiny
// MagicAnimate models animate along it in one command; the motion video is
// kept only with --pose-out, and bad weights leave one line and no file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "cli_runner.h"
#include "media/video.h"
#include "test_util.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;

std::string fixture_dir() { return data_dir() + "/densepose/parity/R_50_FPN_s1x"; }

// Three copies of the fixture's 64x64 person frame (a folder's frames share one size; 25 fps).
std::string raw_frames(const TempDir& tmp) {
  const std::string dir = tmp / "raw";
  fs::create_directories(dir);
  for (int k = 0; k < 3; ++k) fs::copy_file(fixture_dir() + "/frame0.png", dir + "/" + std::to_string(k) + ".png");
  return dir;
}

std::vector<std::string> animate_args(const std::string& raw, const std::string& weights, const std::string& out) {
  return {"animate", "--models", models_dir(), "--source", public_case_dir() + "/source.png", "--motion", raw,
          "--extract-pose", weights, "--size", "64", "--steps", "1", "--context", "4", "--overlap", "1",
          "--out", out, "--quiet"};
}

TEST(AnimateExtractPose, RawVideoToAnimationInOneCommand) {
  TempDir tmp;
  const std::string raw = raw_frames(tmp);
  fs::create_directories(tmp / "out");
  std::vector<std::string> args = animate_args(raw, fixture_dir() + "/model_final.pkl", tmp / "out/x.mp4");
  args.insert(args.end(), {"--frames-out", tmp / "out/f", "--pose-out", tmp / "out/pose.mp4"});
  CliResult r = run_cli(args);
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_video(tmp / "out/x.mp4").frames.sizes(), (at::IntArrayRef{3, 64, 64, 3}));
  // The densepose command's default 512 px motion, one frame per raw frame at 25 fps.
  EXPECT_EQ(read_video(tmp / "out/pose.mp4").frames.sizes(), (at::IntArrayRef{3, 512, 512, 3}));
  std::vector<std::string> files = files_under(tmp / "out");
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"f/0000.png", "f/0001.png", "f/0002.png", "pose.mp4", "x.mp4"}))
      << "a temporary motion video was left behind";
}

TEST(AnimateExtractPose, WithoutPoseOutOnlyTheAnimationIsWritten) {
  TempDir tmp;
  const std::string raw = raw_frames(tmp);
  fs::create_directories(tmp / "out");
  CliResult r = run_cli(animate_args(raw, fixture_dir() + "/model_final.pkl", tmp / "out/x.mp4"));
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_video(tmp / "out/x.mp4").frames.size(0), 3);
  EXPECT_EQ(files_under(tmp / "out"), std::vector<std::string>{"x.mp4"});
}

TEST(AnimateExtractPose, BadWeightsOrConfigModeGiveOneLineAndNoOutput) {
  TempDir tmp;
  const std::string raw = raw_frames(tmp);
  fs::create_directories(tmp / "out");
  const std::pair<std::string, std::string> cases[] = {
      {data_dir() + "/densepose/pkl/zoo_p4.pkl", "not DensePose R-CNN weights"},
      {tmp / "missing.pkl", "missing.pkl"},
  };
  for (const auto& [weights, needle] : cases) {
    CliResult r = run_cli(animate_args(raw, weights, tmp / "out/x.mp4"));
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_TRUE(files_under(tmp / "out").empty()) << "left output behind: " << r.err;
  }
  CliResult r = run_cli({"animate", "--config", tmp / "none.yaml", "--extract-pose", fixture_dir() + "/model_final.pkl"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--extract-pose cannot be used with --config"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ma::test
