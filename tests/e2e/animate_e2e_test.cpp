// `magicanimate animate` end to end on the tiny fixture models: the public case
// through flags and through one of the original's config files reproduces the
// original's frames; the videos, grid, JSON log and Ctrl-C behave as documented.
// Each test animates once (tiny models: seconds on an idle machine).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli_runner.h"
#include "media/image.h"
#include "media/video.h"
#include "test_util.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kFrames = 20, kSize = 64;

// The original's frames (pipeline.video written as 8-bit PNG), [F, H, W, 3] uint8.
at::Tensor golden_frames() {
  std::vector<at::Tensor> frames;
  for (int64_t i = 0; i < kFrames; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/frames/%04d.png", static_cast<int>(i));
    frames.push_back(read_image_rgb(public_case_dir() + name));
  }
  return at::stack(frames);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kInt) - b.to(at::kInt)).abs().max().item<double>();
}

// H.264 in yuv420p keeps one colour sample per 2x2 pixels, and the tiny random
// models produce per-pixel colour noise, so single decoded pixels sit ~12
// levels (up to ~110) from the PNGs. The codec keeps local averages, so videos
// are compared as means over 4x4 blocks: measured ~2.7 levels on average from
// the original's frames, while the neighbouring frame is ~35 away.
constexpr double kVideoTolerance = 4.0;

// Mean |a - b| of the 4x4 block means of two [F, H, W, 3] uint8 videos.
double video_distance(const at::Tensor& a, const at::Tensor& b) {
  auto blocks = [](const at::Tensor& v) { return at::avg_pool2d(v.permute({0, 3, 1, 2}).to(at::kFloat), {4, 4}); };
  return (blocks(a) - blocks(b)).abs().mean().item<double>();
}

// The original's grid row per frame: source | control | result.
at::Tensor original_grid(const at::Tensor& result) {
  std::vector<at::Tensor> rows;
  for (int64_t i = 0; i < result.size(0); ++i)
    rows.push_back(make_grid_row({golden("input.source_image_u8"), golden("input.control_u8")[i], result[i]}));
  return at::stack(rows);
}

std::vector<std::string> public_case_flags() {
  return {"animate",
          "--models",
          models_dir(),
          "--source",
          public_case_dir() + "/source.png",
          "--motion",
          public_case_dir() + "/control",
          "--size",
          "64",
          "--steps",
          "3",
          "--guidance",
          "7.5",
          "--seed",
          "1",
          "--context",
          "16",
          "--overlap",
          "4"};
}

TEST(AnimateEndToEnd, PublicCaseThroughFlagsMatchesTheOriginal) {
  TempDir tmp;
  std::vector<std::string> args = public_case_flags();
  const std::vector<std::string> outputs_args = {"--frames-out", tmp / "frames", "--out",     tmp / "x.mp4",
                                                 "--grid",       tmp / "g.mp4",  "--log-json"};
  args.insert(args.end(), outputs_args.begin(), outputs_args.end());
  CliResult r = run_cli(args);
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "--log-json keeps stderr for errors";

  // Frames: within one 8-bit level of the original's PNGs.
  const at::Tensor original = golden_frames();
  std::vector<at::Tensor> ours;
  for (int64_t i = 0; i < kFrames; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "frames/%04d.png", static_cast<int>(i));
    ASSERT_TRUE(fs::exists(tmp / name)) << name;
    ours.push_back(read_image_rgb(tmp / name));
  }
  EXPECT_FALSE(fs::exists(tmp / "frames/0020.png")) << "output is cut back to the motion's 20 frames";
  const at::Tensor frames = at::stack(ours);
  EXPECT_LE(max_abs_diff(frames, original), 1.0);

  // The MP4: 20 frames of 64x64 at the frame folder's 25 fps, close to the frames.
  DecodedVideo video = read_video(tmp / "x.mp4");
  ASSERT_EQ(video.frames.sizes(), (at::IntArrayRef{kFrames, kSize, kSize, 3}));
  EXPECT_NEAR(video.fps, 25.0, 1e-6);
  EXPECT_LE(video_distance(video.frames, original), kVideoTolerance);
  // The comparison tells frames apart: frame i against the original's frame i+1.
  EXPECT_GT(video_distance(video.frames.slice(0, 0, kFrames - 1), original.slice(0, 1)), 4 * kVideoTolerance);

  // The grid: source | control | result, 2-pixel black padding (torchvision make_grid).
  DecodedVideo grid = read_video(tmp / "g.mp4");
  ASSERT_EQ(grid.frames.sizes(), (at::IntArrayRef{kFrames, kSize + 2 * 2, 3 * (kSize + 2) + 2, 3}));
  EXPECT_NEAR(grid.fps, 25.0, 1e-6);
  const at::Tensor g = grid.frames;
  EXPECT_LE(video_distance(g, original_grid(original)), kVideoTolerance);
  const at::Tensor right = g.slice(1, 2, 2 + kSize).slice(2, 2 * (kSize + 2) + 2, 3 * (kSize + 2));
  EXPECT_LE(video_distance(right, original), kVideoTolerance) << "the right panel is the result";
  // Padding rows and columns are black (averaged: H.264 smears edges a little).
  EXPECT_LE(g.slice(1, 0, 2).to(at::kFloat).mean().item<double>(), 4.0);
  EXPECT_LE(g.slice(2, kSize + 2, kSize + 4).to(at::kFloat).mean().item<double>(), 8.0);

  // --log-json: every stdout line is one JSON object; progress walks 3 steps.
  std::istringstream lines(r.out);
  std::string line;
  int64_t last_step = 0;
  std::vector<std::string> outputs;
  bool finished = false;
  while (std::getline(lines, line)) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << line;
    ASSERT_TRUE(j.is_object() && j.contains("event")) << line;
    if (j["event"] == "start") EXPECT_EQ(j["scheduler"], "ddim") << "DDIM, the original's sampler, is the default";
    if (j["event"] == "progress" && j["phase"] == "denoise") {
      EXPECT_EQ(j["steps"], 3);
      EXPECT_GE(j["step"].get<int64_t>(), last_step);
      last_step = j["step"];
    }
    if (j["event"] == "output") outputs.push_back(j["path"]);
    if (j["event"] == "finished") finished = true;
  }
  EXPECT_EQ(last_step, 3);
  EXPECT_EQ(outputs.size(), 3u);
  EXPECT_TRUE(finished);
}

// --low-memory hands each network's weight pages back between uses
// (docs/performance.md#memory): the frames are still the original's, and the
// log says how much of the weights it maps.
TEST(AnimateEndToEnd, LowMemoryStillMatchesTheOriginal) {
  TempDir tmp;
  std::vector<std::string> args = public_case_flags();
  const std::vector<std::string> more = {"--low-memory", "--frames-out", tmp / "frames", "--out", tmp / "x.mp4"};
  args.insert(args.end(), more.begin(), more.end());
  CliResult r = run_cli(args);
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("low memory: "), std::string::npos) << r.err;
  std::vector<at::Tensor> ours;
  for (int64_t i = 0; i < kFrames; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "frames/%04d.png", static_cast<int>(i));
    ours.push_back(read_image_rgb(tmp / name));
  }
  EXPECT_LE(max_abs_diff(at::stack(ours), golden_frames()), 1.0);
}

TEST(AnimateEndToEnd, OriginalConfigFileWritesTheOriginalsOutputs) {
  TempDir tmp;
  // The original's format; paths relative to the current folder (the repo root here).
  const std::string config = tmp / "fixture_animation.yaml";
  std::ofstream(config)
      << "pretrained_model_path: \"tests/data/models/stable-diffusion-v1-5\"\n"
         "pretrained_vae_path: \"tests/data/models/sd-vae-ft-mse\"\n"
         "pretrained_controlnet_path: \"tests/data/models/MagicAnimate/densepose_controlnet\"\n"
         "pretrained_appearance_encoder_path: \"tests/data/models/MagicAnimate/appearance_encoder\"\n"
         "pretrained_unet_path: \"\"\n"
         "motion_module: \"tests/data/models/MagicAnimate/temporal_attention/temporal_attention.ckpt\"\n"
         "savename: null\n"
         "fusion_blocks: \"midup\"\n"
         "seed:           [1]\n"
         "steps:          3\n"
         "guidance_scale: 7.5\n"
         "source_image:\n"
         "  - \"tests/data/cases/public/source.png\"\n"
         "video_path:\n"
         "  - \"tests/data/cases/public/control\"\n"
         "inference_config: \"configs/inference/inference.yaml\"\n"
         "size: 64\n"
         "L:    16\n"
         "S:    1\n"
         "I:    0\n"
         "clip: 0\n"
         "offset: 0\n"
         "max_length: null\n"
         "video_type: \"condition\"\n"
         "invert_video: false\n"
         "save_individual_videos: false\n";
  CliOptions opt;
  opt.cwd = MA_SOURCE_DIR;
  CliResult r = run_cli({"animate", "--config", config, "--out-dir", tmp / "out", "--quiet"}, opt);
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out + r.err, "") << "--quiet prints nothing";

  // savename null: samples/<config stem>-<YYYY-MM-DDTHH-MM-SS>.
  std::vector<std::string> files = files_under(tmp / "out");
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 3u) << "expected video, grid and config.yaml";
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      files[0], m, std::regex(R"((samples/fixture_animation-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)/config\.yaml)")))
      << files[0];
  const std::string savedir = m[1];
  EXPECT_EQ(files[1], savedir + "/videos/source_control.mp4");
  EXPECT_EQ(files[2], savedir + "/videos/source_control/grid.mp4");

  const at::Tensor original = golden_frames();
  DecodedVideo video = read_video(tmp / "out/" + files[1]);
  ASSERT_EQ(video.frames.sizes(), (at::IntArrayRef{kFrames, kSize, kSize, 3}));
  EXPECT_NEAR(video.fps, 25.0, 1e-6) << "the original saves at 25 fps";
  EXPECT_LE(video_distance(video.frames, original), kVideoTolerance);
  DecodedVideo grid = read_video(tmp / "out/" + files[2]);
  ASSERT_EQ(grid.frames.sizes(), (at::IntArrayRef{kFrames, 68, 200, 3}));
  EXPECT_LE(video_distance(grid.frames, original_grid(original)), kVideoTolerance);

  YAML::Node record = YAML::LoadFile(tmp / "out/" + files[0]);
  EXPECT_EQ(record["steps"].as<int>(), 3);
  ASSERT_TRUE(record["random_seed"].IsSequence());
  EXPECT_EQ(record["random_seed"][0].as<uint64_t>(), 1u);
}

// --scheduler dpmpp-2m: the public case's settings with DPM-Solver++ 2M (its
// steps are checked against diffusers in tests/unit/dpm_solver_test.cpp) run,
// log the sampler, walk their steps and write a video; the frames are not
// DDIM's (999, 666, 333 and a final step to 0 instead of 667, 334, 1).
TEST(AnimateEndToEnd, DpmSolverSchedulerRunsAndWritesAVideo) {
  TempDir tmp;
  std::vector<std::string> args = public_case_flags();
  const std::vector<std::string> more = {"--scheduler", "dpmpp-2m",     "--out",     tmp / "x.mp4",
                                         "--frames-out", tmp / "frames", "--log-json"};
  args.insert(args.end(), more.begin(), more.end());
  CliResult r = run_cli(args);
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  DecodedVideo video = read_video(tmp / "x.mp4");
  ASSERT_EQ(video.frames.sizes(), (at::IntArrayRef{kFrames, kSize, kSize, 3}));

  std::istringstream lines(r.out);
  std::string line;
  int64_t last_step = 0;
  bool started = false;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["event"] == "start") {
      EXPECT_EQ(j["scheduler"], "dpmpp-2m");
      started = true;
    }
    if (j["event"] == "progress" && j["phase"] == "denoise") {
      EXPECT_EQ(j["steps"], 3);
      last_step = j["step"];
    }
  }
  EXPECT_TRUE(started);
  EXPECT_EQ(last_step, 3);

  std::vector<at::Tensor> frames;
  for (int64_t i = 0; i < kFrames; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "frames/%04d.png", static_cast<int>(i));
    frames.push_back(read_image_rgb(tmp / name));
  }
  EXPECT_GT(max_abs_diff(at::stack(frames), golden_frames()), 1.0) << "the frames are DDIM's: the sampler was not used";
}

TEST(AnimateEndToEnd, NonSquareAnyLengthAndFrameRate) {
  TempDir tmp;
  CliResult r = run_cli({"animate",
                         "--models",
                         models_dir(),
                         "--source",
                         public_case_dir() + "/source.png",
                         "--motion",
                         public_case_dir() + "/control",
                         "--width",
                         "64",
                         "--height",
                         "48",
                         "--max-frames",
                         "5",
                         "--offset",
                         "3",
                         "--steps",
                         "1",
                         "--context",
                         "4",
                         "--overlap",
                         "1",
                         "--fps",
                         "10",
                         "--out",
                         tmp / "x.mp4",
                         "--frames-out",
                         tmp / "f",
                         "--quiet"});
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  DecodedVideo video = read_video(tmp / "x.mp4");
  ASSERT_EQ(video.frames.sizes(), (at::IntArrayRef{5, 48, 64, 3}));
  EXPECT_NEAR(video.fps, 10.0, 1e-6);
  std::vector<std::string> frames = files_under(tmp / "f");
  std::sort(frames.begin(), frames.end());
  EXPECT_EQ(frames, (std::vector<std::string>{"0000.png", "0001.png", "0002.png", "0003.png", "0004.png"}));
  EXPECT_EQ(read_image_rgb(tmp / "f/0004.png").sizes(), (at::IntArrayRef{48, 64, 3}));
}

TEST(AnimateEndToEnd, InterruptStopsCleanly) {
  TempDir tmp;
  std::vector<std::string> args = public_case_flags();
  // A repeated option takes its last value: 200 steps leave time to interrupt mid-run.
  const std::vector<std::string> more = {
      "--steps",          "200",    "--out",           tmp / "out/x.mp4", "--frames-out",
      tmp / "out/frames", "--grid", tmp / "out/g.mp4", "--log-json"};
  args.insert(args.end(), more.begin(), more.end());
  CliOptions opt;
  opt.interrupt_when = [](const std::string& out) { return out.find("\"phase\":\"denoise\"") != std::string::npos; };
  CliResult r = run_cli(args, opt);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exit_code, 130);
  EXPECT_EQ(r.err, "magicanimate: cancelled\n");
  EXPECT_NE(r.out.find("\"event\":\"cancelled\""), std::string::npos);
  EXPECT_TRUE(files_under(tmp.path()).empty()) << "no output or partial file is left";
  EXPECT_FALSE(fs::exists(tmp / "out")) << "the output folder it would have created is not left either";
}

}  // namespace
}  // namespace ma::test
