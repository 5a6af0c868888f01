// `animate --dataset` (the built program, MA_BINARY) end to end on the tiny fixture models, then the
// evaluation's three commands on its output: `eval --prepare-gt` on the same
// dataset and `eval --pred OUT --gt GT` pair frame for frame.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "media/image.h"
#include "temp_dir.h"
#include "test_util.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;
constexpr int kFrames = 6;

std::string frame_file(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "%04d.png", i);
  return name;
}

// Two TikTok-layout videos built from the public case: vidA at 64x64 (the
// reference image, then the control frames as its images), vidB the same
// frames padded with 8 black columns each side (80x64), so its centre crop
// is vidA exactly and the two predictions must be equal.
void make_dataset(const std::string& root) {
  for (const char* v : {"vidA", "vidB"}) {
    fs::create_directories(fs::path(root) / v / "images");
    fs::create_directories(fs::path(root) / v / "densepose");
    fs::create_directories(fs::path(root) / v / "masks");  // ignored, as TikTok's
  }
  char control[32];
  for (int i = 0; i < kFrames; ++i) {
    std::snprintf(control, sizeof control, "/control/%04d.png", i);
    const at::Tensor pose = read_image_rgb(public_case_dir() + control);
    const at::Tensor image = i == 0 ? read_image_rgb(public_case_dir() + "/source.png") : pose;
    const std::string name = frame_file(i + 1);  // TikTok numbers from 0001
    write_png(root + "/vidA/images/" + name, image);
    write_png(root + "/vidA/densepose/" + name, pose);
    write_png(root + "/vidB/images/" + name, at::constant_pad_nd(image, {0, 0, 8, 8}, 0));
    write_png(root + "/vidB/densepose/" + name, at::constant_pad_nd(pose, {0, 0, 8, 8}, 0));
  }
}

std::vector<std::string> sampling_flags() {
  return {"--models", models_dir(), "--size", "64", "--steps", "2", "--seed", "3", "--context", "16", "--quiet"};
}

CliResult animate(std::vector<std::string> args) {
  args.insert(args.begin(), "animate");
  const std::vector<std::string> s = sampling_flags();
  args.insert(args.end(), s.begin(), s.end());
  return run_cli(args);
}

double max_abs_diff(const std::string& a, const std::string& b) {
  return (read_image_rgb(a).to(at::kInt) - read_image_rgb(b).to(at::kInt)).abs().max().item<double>();
}

TEST(AnimateDataset, EveryVideoFromItsFirstFrameThenEval) {
  TempDir tmp;
  make_dataset(tmp / "ds");
  CliResult r = animate({"--dataset", tmp / "ds", "--out", tmp / "pred"});
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> files = files_under(tmp / "pred");
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u * kFrames);
  EXPECT_EQ(files.front(), "vidA/0001.png");
  EXPECT_EQ(files.back(), "vidB/0006.png");

  // The same animation through flags (reference = the first frame, motion =
  // the DensePose folder) gives the same frames; vidB's centre crop is vidA.
  ASSERT_EQ(animate({"--source", tmp / "ds/vidA/images/0001.png", "--motion", tmp / "ds/vidA/densepose",
                     "--frames-out", tmp / "flags", "--out", tmp / "flags.mp4"})
                .exit_code,
            0);
  for (int i = 0; i < kFrames; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(max_abs_diff(tmp / ("pred/vidA/" + frame_file(i + 1)), tmp / ("flags/" + frame_file(i))), 0);
    EXPECT_EQ(max_abs_diff(tmp / ("pred/vidB/" + frame_file(i + 1)), tmp / ("pred/vidA/" + frame_file(i + 1))), 0);
  }
  // The frames differ from one another (the comparison above can fail).
  EXPECT_GT(max_abs_diff(tmp / "pred/vidA/0001.png", tmp / "pred/vidA/0006.png"), 0);

  // The README's reproduction: prepare the ground truth, then score.
  ASSERT_EQ(run_cli({"eval", "--prepare-gt", tmp / "ds", "--out", tmp / "gt"}).exit_code, 0);
  CliResult e = run_cli({"eval", "--pred", tmp / "pred", "--gt", tmp / "gt", "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const nlohmann::json out = nlohmann::json::parse(e.out);
  EXPECT_EQ(out["videos"], 2);
  EXPECT_EQ(out["frames"], 2 * kFrames);
  EXPECT_GT(out["l1"].get<double>(), 0);
}

TEST(AnimateDataset, VideosListAndBadFlagsAreOneLine) {
  TempDir tmp;
  make_dataset(tmp / "ds");
  fs::create_directories(tmp / "ds/broken/images");  // no densepose/: scanning it would fail
  std::ofstream(tmp / "list.txt") << "# one per line\nvidB\n";
  CliResult r = animate({"--dataset", tmp / "ds", "--videos", tmp / "list.txt", "--out", tmp / "pred",
                         "--max-frames", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> files = files_under(tmp / "pred");
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"vidB/0001.png", "vidB/0002.png"}));  // only vidB was scanned

  auto one_line = [](const CliResult& c, const std::string& needle) {
    EXPECT_NE(c.exit_code, 0);
    EXPECT_EQ(count_lines(c.err), 1) << c.err;
    EXPECT_NE(c.err.find(needle), std::string::npos) << c.err;
  };
  one_line(animate({"--dataset", tmp / "ds", "--videos", "vidA,nope", "--out", tmp / "p2"}), "no video 'nope'");
  one_line(animate({"--dataset", tmp / "ds", "--videos", "nope", "--out", tmp / "p2"}), "no video 'nope'");
  one_line(animate({"--dataset", tmp / "ds", "--source", tmp / "ds/vidA/images/0001.png", "--out", tmp / "p3"}),
           "--source cannot be used with --dataset");
  one_line(animate({"--dataset", tmp / "ds"}), "--dataset needs --out DIR");
  one_line(animate({"--videos", "vidA", "--source", "x.png", "--motion", "m", "--out", "o.mp4"}),
           "--videos needs --dataset");
  EXPECT_FALSE(fs::exists(tmp / "p2"));
  EXPECT_FALSE(fs::exists(tmp / "p3"));
}

}  // namespace
}  // namespace ma::test
