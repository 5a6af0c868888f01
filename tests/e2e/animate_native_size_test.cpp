// `animate` without --size on a models folder that records its native size
// (magicanimate.json, written by `train`) animates at that size and says so.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "media/image.h"
#include "native_models.h"
#include "temp_dir.h"
#include "test_util.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;

// The run succeeded, said it used the native size, and wrote these 64x64 frames.
void expect_native_64x64(const CliResult& r, const std::vector<std::string>& frames) {
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("at 64x64 (the models' native size)"), std::string::npos) << r.err;
  for (const std::string& path : frames) {
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(read_image_rgb(path).sizes(), (at::IntArrayRef{64, 64, 3})) << path;
  }
}

TEST(AnimateNativeSize, NoSizeGivenUsesTheModelsNativeSize) {
  TempDir tmp;
  make_native_models(tmp / "models", {64, 64});  // the fixture models' size (their default would be 512)
  CliResult r = run_cli({"animate", "--models", tmp / "models", "--source", public_case_dir() + "/source.png",
                         "--motion", public_case_dir() + "/control", "--max-frames", "2", "--steps", "1",
                         "--frames-out", tmp / "frames", "--out", tmp / "x.mp4"});
  expect_native_64x64(r, {tmp / "frames/0000.png", tmp / "frames/0001.png"});
  EXPECT_FALSE(fs::exists(tmp / "frames/0002.png"));
}

// --dataset settles its size the same way: one 2-frame TikTok-layout video of the public case.
TEST(AnimateNativeSize, DatasetModeUsesTheModelsNativeSize) {
  TempDir tmp;
  make_native_models(tmp / "models", {64, 64});
  for (const char* sub : {"ds/vid/images", "ds/vid/densepose"}) fs::create_directories(tmp / sub);
  // Frame 1 is the reference (the source image), frame 2 any image; TikTok numbers from 0001.
  fs::copy_file(public_case_dir() + "/source.png", tmp / "ds/vid/images/0001.png");
  fs::copy_file(public_case_dir() + "/control/0001.png", tmp / "ds/vid/images/0002.png");
  fs::copy_file(public_case_dir() + "/control/0000.png", tmp / "ds/vid/densepose/0001.png");
  fs::copy_file(public_case_dir() + "/control/0001.png", tmp / "ds/vid/densepose/0002.png");
  CliResult r = run_cli({"animate", "--models", tmp / "models", "--dataset", tmp / "ds", "--out", tmp / "pred",
                         "--steps", "1"});
  expect_native_64x64(r, {tmp / "pred/vid/0001.png", tmp / "pred/vid/0002.png"});
}

TEST(AnimateNativeSize, GivenSizeWinsOverTheNativeOne) {
  TempDir tmp;
  make_native_models(tmp / "models", {128, 128});
  CliResult r = run_cli({"animate", "--models", tmp / "models", "--source", public_case_dir() + "/source.png",
                         "--motion", public_case_dir() + "/control", "--max-frames", "1", "--steps", "1", "--size",
                         "64", "--frames-out", tmp / "frames", "--out", tmp / "x.mp4"});
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("native size"), std::string::npos) << r.err;
  EXPECT_EQ(read_image_rgb(tmp / "frames/0000.png").sizes(), (at::IntArrayRef{64, 64, 3}));
}

TEST(AnimateNativeSize, BrokenModelInfoIsOneLineNamingIt) {
  TempDir tmp;
  make_native_models(tmp / "models", {64, 64});
  std::ofstream(tmp / "models/magicanimate.json") << R"({"native_width": 60, "native_height": 64})";
  CliResult r = run_cli({"animate", "--models", tmp / "models", "--source", public_case_dir() + "/source.png",
                         "--motion", public_case_dir() + "/control", "--out", tmp / "x.mp4"});
  ASSERT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(tmp / "models/magicanimate.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("native_width"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "x.mp4"));
}

}  // namespace
}  // namespace ma::test
