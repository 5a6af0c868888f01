// Reading the original's configs/prompts/animation.yaml: which pairs run with
// which seeds and settings, and where their outputs go — the semantics of
// magicanimate/pipelines/animation.py.
#include "cli/animation_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "util/error.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;

// Runs `body` with the current folder set to `dir` (config paths are relative to it).
template <typename F>
void in_folder(const std::string& dir, F body) {
  fs::path before = fs::current_path();
  fs::current_path(dir);
  try {
    body();
  } catch (...) {
    fs::current_path(before);
    throw;
  }
  fs::current_path(before);
}

class AnimationConfig : public ::testing::Test {
 protected:
  // A minimal config in the original's format; `extra` lines add keys or replace these.
  std::string write(const std::string& extra, const std::string& name = "cfg.yaml") {
    const std::vector<std::string> base = {"pretrained_model_path: \"m/sd\"",
                                           "pretrained_vae_path: \"m/vae\"",
                                           "pretrained_controlnet_path: \"m/cn\"",
                                           "pretrained_appearance_encoder_path: \"m/ae\"",
                                           "pretrained_unet_path: \"\"",
                                           "motion_module: \"m/mm.ckpt\"",
                                           "steps: 3",
                                           "guidance_scale: 2.5",
                                           "size: 64",
                                           "L: 8"};
    std::string path = tmp / name;
    std::ofstream f(path);
    for (const std::string& line : base) {
      std::string key = line.substr(0, line.find(':') + 1);
      if (("\n" + extra).find("\n" + key) == std::string::npos) f << line << "\n";
    }
    f << extra;
    return path;
  }
  TempDir tmp;
};

TEST_F(AnimationConfig, ReadsTheOriginalDemoConfig) {
  cli::ConfigLoadOptions opt;
  opt.out_dir = "/results";
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  opt.now = 86400 + 3600 * 13 + 60 * 4 + 5;  // 1970-01-02 13:04:05 UTC
  cli::AnimationConfig cfg;
  in_folder(MA_SOURCE_DIR, [&] { cfg = cli::load_animation_config("configs/prompts/animation.yaml", opt); });

  // savename null -> samples/<config stem>-<%Y-%m-%dT%H-%M-%S>
  EXPECT_EQ(cfg.savedir, "/results/samples/animation-1970-01-02T13-04-05");
  // Model paths exactly as written, relative to the current folder.
  EXPECT_EQ(cfg.models.sd, "pretrained_models/stable-diffusion-v1-5");
  EXPECT_EQ(cfg.models.vae, "pretrained_models/sd-vae-ft-mse");
  EXPECT_EQ(cfg.models.controlnet, "pretrained_models/MagicAnimate/densepose_controlnet");
  EXPECT_EQ(cfg.models.appearance_encoder, "pretrained_models/MagicAnimate/appearance_encoder");
  EXPECT_EQ(cfg.models.motion_module, "pretrained_models/MagicAnimate/temporal_attention/temporal_attention.ckpt");
  EXPECT_EQ(cfg.unet_dir, "");

  ASSERT_EQ(cfg.pairs.size(), 5u);
  const std::vector<std::pair<std::string, std::string>> names = {{"monalisa", "running"},
                                                                  {"demo4", "demo4"},
                                                                  {"dalle2", "running2"},
                                                                  {"dalle8", "dancing2"},
                                                                  {"multi1_source", "multi_dancing"}};
  for (size_t i = 0; i < 5; ++i) {
    const FileAnimation& job = cfg.pairs[i].job;
    SCOPED_TRACE(job.source);
    EXPECT_FALSE(cfg.pairs[i].random_seed);
    EXPECT_EQ(job.params.seed, 1u) << "seed: [1] serves every source";
    EXPECT_EQ(job.params.steps, 25);
    EXPECT_DOUBLE_EQ(job.params.guidance, 7.5);
    EXPECT_EQ(job.params.width, 512);
    EXPECT_EQ(job.params.height, 512);
    EXPECT_EQ(job.params.length_multiple, 16);  // L: 16
    EXPECT_EQ(job.params.context, 16);
    EXPECT_EQ(job.params.overlap, 4);
    EXPECT_EQ(job.params.prompt, "");
    EXPECT_EQ(job.max_frames, -1);
    EXPECT_EQ(job.offset, 0);
    EXPECT_DOUBLE_EQ(job.fps, 25.0);
    const std::string stem = names[i].first + "_" + names[i].second;
    EXPECT_EQ(job.video_out, cfg.savedir + "/videos/" + stem + ".mp4");
    EXPECT_EQ(job.grid_out, cfg.savedir + "/videos/" + stem + "/grid.mp4");
    EXPECT_EQ(job.control_out, "");  // save_individual_videos: false
    EXPECT_EQ(job.source_out, "");
  }
  EXPECT_EQ(cfg.pairs[0].job.source, "inputs/applications/source_image/monalisa.png");
  EXPECT_EQ(cfg.pairs[0].job.motion, "inputs/applications/driving/densepose/running.mp4");
}

TEST_F(AnimationConfig, SeedListsFollowTheOriginal) {
  auto load = [&](const std::string& extra) { return cli::load_animation_config(write(extra)); };
  // A list of several seeds pairs with sources/videos like zip(): the shortest list wins.
  auto cfg = load("seed: [5, 6]\nsource_image: [a.png, b.png, c.png]\nvideo_path: [x.mp4, y.mp4, z.mp4]\n");
  ASSERT_EQ(cfg.pairs.size(), 2u);
  EXPECT_EQ(cfg.pairs[0].job.params.seed, 5u);
  EXPECT_EQ(cfg.pairs[1].job.params.seed, 6u);
  // A single integer serves every source.
  cfg = load("seed: 7\nsource_image: [a.png, b.png]\nvideo_path: [x.mp4, y.mp4]\n");
  ASSERT_EQ(cfg.pairs.size(), 2u);
  EXPECT_EQ(cfg.pairs[1].job.params.seed, 7u);
  // Fewer videos than sources: zip stops at the videos.
  cfg = load("seed: [1]\nsource_image: [a.png, b.png]\nvideo_path: [x.mp4]\n");
  EXPECT_EQ(cfg.pairs.size(), 1u);
  // -1 (and a missing seed) draw a seed per pair; it is recorded.
  cfg = load("seed: [-1]\nsource_image: [a.png, b.png]\nvideo_path: [x.mp4, y.mp4]\n");
  ASSERT_EQ(cfg.pairs.size(), 2u);
  EXPECT_TRUE(cfg.pairs[0].random_seed);
  EXPECT_TRUE(cfg.pairs[1].random_seed);
  cfg = load("source_image: [a.png]\nvideo_path: [x.mp4]\n");
  EXPECT_TRUE(cfg.pairs[0].random_seed);
  // Seeds beyond 2^63 are valid torch seeds.
  cfg = load("seed: 18446744073709551615\nsource_image: [a.png]\nvideo_path: [x.mp4]\n");
  EXPECT_EQ(cfg.pairs[0].job.params.seed, 18446744073709551615ull);
}

TEST_F(AnimationConfig, SettingsNamesAndOutputs) {
  auto cfg = cli::load_animation_config(
      write("savename: mine\nsource_image: [\"in/me.v2.png\"]\nvideo_path: [\"d/dance.webm\"]\n"
            "offset: 5\nmax_length: null\nsave_individual_videos: true\n"),
      {"out", 4, 25, 0});
  ASSERT_EQ(cfg.pairs.size(), 1u);
  const FileAnimation& job = cfg.pairs[0].job;
  EXPECT_EQ(cfg.savedir, "out/samples/mine");
  // Source name: up to the first dot (the original's split(".")[0]); video: without extension.
  EXPECT_EQ(job.video_out, "out/samples/mine/videos/me_dance.mp4");
  EXPECT_EQ(job.grid_out, "out/samples/mine/videos/me_dance/grid.mp4");
  EXPECT_EQ(job.control_out, "out/samples/mine/videos/me_dance/ctrl.mp4");
  EXPECT_EQ(job.source_out, "out/samples/mine/videos/me_dance/orig.mp4");
  // The original applies offset only together with max_length.
  EXPECT_EQ(job.offset, 0);
  EXPECT_EQ(job.max_frames, -1);
  EXPECT_EQ(job.params.steps, 3);
  EXPECT_DOUBLE_EQ(job.params.guidance, 2.5);
  EXPECT_EQ(job.params.width, 64);
  // L is the padding multiple; the window stays the pipeline's default 16
  // (animation.py never passes context_frames).
  EXPECT_EQ(job.params.length_multiple, 8);
  EXPECT_EQ(job.params.context, 16);
  cfg = cli::load_animation_config(write("L: 32\nsource_image: a.png\nvideo_path: v.mp4\n"));
  EXPECT_EQ(cfg.pairs[0].job.params.length_multiple, 32) << "an L above the 24-frame window limit is fine";
  EXPECT_EQ(cfg.pairs[0].job.params.context, 16);

  cfg = cli::load_animation_config(write("source_image: a.png\nvideo_path: v.mp4\noffset: 5\nmax_length: 10\n"));
  EXPECT_EQ(cfg.pairs[0].job.offset, 5);
  EXPECT_EQ(cfg.pairs[0].job.max_frames, 10);

  // pretrained_vae_path null: the Stable Diffusion folder's own VAE.
  cfg = cli::load_animation_config(write("pretrained_vae_path: null\nsource_image: a.png\nvideo_path: v.mp4\n"));
  EXPECT_EQ(cfg.models.vae, "m/sd/vae");
}

TEST_F(AnimationConfig, AppearanceEncoderSubfolderLikeDiffusers) {
  // from_pretrained(path, subfolder="appearance_encoder") falls back to path/appearance_encoder.
  fs::create_directories(tmp / "ae/appearance_encoder");
  std::ofstream(tmp / "ae/appearance_encoder/config.json") << "{}";
  auto cfg = cli::load_animation_config(
      write("pretrained_appearance_encoder_path: \"" + tmp / "ae" + "\"\nsource_image: a.png\nvideo_path: v.mp4\n"));
  EXPECT_EQ(cfg.models.appearance_encoder, tmp / "ae/appearance_encoder");
}

TEST_F(AnimationConfig, RecordAddsTheSeedsUsed) {
  auto cfg = cli::load_animation_config(
      write("savename: r\nseed: [3, 4]\nsource_image: [a.png, b.png]\nvideo_path: [x.mp4, y.mp4]\n"), {tmp.path()});
  EXPECT_EQ(cli::config_record_path(cfg), tmp / "samples/r/config.yaml");
  YAML::Node record = YAML::Load(cli::config_record_text(cfg));
  ASSERT_TRUE(record["random_seed"].IsSequence());
  EXPECT_EQ(record["random_seed"][0].as<uint64_t>(), 3u);
  EXPECT_EQ(record["random_seed"][1].as<uint64_t>(), 4u);
  EXPECT_EQ(record["steps"].as<int>(), 3);
  EXPECT_EQ(record["savename"].as<std::string>(), "r");
}

TEST_F(AnimationConfig, RefusesWhatItCannotHonour) {
  auto refused = [&](const std::string& extra, const std::string& key) {
    SCOPED_TRACE(extra);
    try {
      cli::load_animation_config(write(extra));
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find(key), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  refused("video_path: [v.mp4]\n", "source_image");
  refused("source_image: [a.png]\n", "video_path");
  refused("source_image: []\nvideo_path: []\n", "pair");
  refused("source_image: a.png\nvideo_path: v.mp4\nfusion_blocks: full\n", "fusion_blocks");
  refused("source_image: a.png\nvideo_path: v.mp4\nseed: [-3]\n", "seed");
  refused("source_image: a.png\nvideo_path: v.mp4\nmax_length: 0\n", "max_length");
  refused("source_image: a.png\nvideo_path: v.mp4\ninference_config: nowhere.yaml\n", "nowhere.yaml");
  refused("source_image: a.png\nvideo_path: v.mp4\nnum_actual_inference_steps: 2\n", "num_actual_inference_steps");
  refused("source_image: {a: 1}\nvideo_path: v.mp4\n", "source_image");
  refused("source_image: a.png\nvideo_path: v.mp4\nsteps: many\n", "steps");
  std::ofstream(tmp / "inf.yaml") << "noise_scheduler_kwargs:\n  beta_schedule: scaled_linear\n";
  refused("source_image: a.png\nvideo_path: v.mp4\ninference_config: \"" + tmp / "inf.yaml" + "\"\n", "beta_schedule");
}

}  // namespace
}  // namespace ma::test
