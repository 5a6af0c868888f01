// `magicanimate animate` as a user meets it: every bad input is refused with
// one line naming the problem, a non-zero exit and no output file, before any
// model is loaded; --help documents every option. (Runs that animate are in
// animate_e2e_test.cpp.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include <ATen/Context.h>

#include "cli_runner.h"
#include "test_util.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;

struct BadCase {
  std::string name;
  std::vector<std::string> args;      // after `animate`; {T} is the temp folder
  std::vector<std::string> expected;  // substrings of the one error line
};

class AnimateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp / "out");
    std::ofstream(tmp / "garbage.png") << "this is not an image";
    std::ofstream(tmp / "garbage.mp4") << "this is not a video";
    fs::create_directories(tmp / "empty_frames");
    fs::create_directories(tmp / "a_folder");
    std::ofstream(tmp / "a_file") << "x";
  }

  std::string source() const { return public_case_dir() + "/source.png"; }
  std::string motion() const { return public_case_dir() + "/control"; }

  // Valid flags except for what a case adds. The models folder does not exist,
  // so a check that wrongly passes ends in a models error (never a long run),
  // and a correct message proves the check ran before models were looked at.
  std::vector<std::string> base(const std::string& models = "") const {
    return {"animate",  "--models", models.empty() ? tmp / "no-models" : models,
            "--source", source(),   "--motion",
            motion(),   "--size",   "64",
            "--steps",  "3"};
  }

  void expect_refused(const BadCase& c) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args;
    for (std::string a : c.args) {
      size_t at = a.find("{T}");
      if (at != std::string::npos) a.replace(at, 3, tmp.path());
      args.push_back(a);
    }
    CliResult r = run_cli(args);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.signal, 0) << "crashed";
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(count_lines(r.err), 1) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("magicanimate: error: ", 0), 0u) << r.err;
    for (std::string want : c.expected) {
      size_t at = want.find("{T}");
      if (at != std::string::npos) want.replace(at, 3, tmp.path());
      EXPECT_NE(r.err.find(want), std::string::npos) << "expected '" << want << "' in: " << r.err;
    }
    EXPECT_TRUE(files_under(tmp / "out").empty()) << "an output file was left in " << tmp / "out";
  }

  std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) const {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  TempDir tmp;
};

TEST_F(AnimateCli, RefusesBadInputsWithOneLine) {
  const std::string out = tmp / "out/x.mp4";
  const std::vector<BadCase> cases = {
      {"missing source", {"animate", "--source", "{T}/nope.png", "--motion", motion(), "--out", out}, {"{T}/nope.png"}},
      {"source is a folder", {"animate", "--source", "{T}/a_folder", "--motion", motion(), "--out", out}, {"folder"}},
      {"undecodable source", with(base(), {"--source", "{T}/garbage.png", "--out", out}), {"{T}/garbage.png"}},
      {"missing motion", with(base(), {"--motion", "{T}/nope.mp4", "--out", out}), {"{T}/nope.mp4"}},
      {"undecodable motion", with(base(), {"--motion", "{T}/garbage.mp4", "--out", out}), {"{T}/garbage.mp4"}},
      {"motion folder without frames",
       with(base(), {"--motion", "{T}/empty_frames", "--out", out}),
       {"{T}/empty_frames"}},
      {"offset past the last frame", with(base(), {"--offset", "20", "--out", out}), {"offset"}},
      {"size not a multiple of 8", with(base(), {"--size", "60", "--out", out}), {"multiple of 8", "60"}},
      {"size zero", with(base(), {"--size", "0", "--out", out}), {"multiple of 8"}},
      {"height not a multiple of 8",
       {"animate", "--source", source(), "--motion", motion(), "--width", "64", "--height", "50", "--out", out},
       {"height", "50"}},
      {"negative width",
       {"animate", "--source", source(), "--motion", motion(), "--width", "-64", "--height", "64", "--out", out},
       {"width"}},
      {"zero steps", with(base(), {"--steps", "0", "--out", out}), {"steps"}},
      {"negative steps", with(base(), {"--steps", "-3", "--out", out}), {"steps"}},
      {"negative guidance", with(base(), {"--guidance", "-1", "--out", out}), {"guidance"}},
      {"unknown scheduler",
       with(base(), {"--scheduler", "euler", "--out", out}),
       {"scheduler must be one of ddim, dpmpp-2m", "got 'euler'"}},
      {"context above 24", with(base(), {"--context", "25", "--out", out}), {"context", "24"}},
      {"context zero", with(base(), {"--context", "0", "--out", out}), {"context"}},
      {"overlap equal to context", with(base(), {"--context", "8", "--overlap", "8", "--out", out}), {"overlap"}},
      {"negative overlap", with(base(), {"--overlap", "-1", "--out", out}), {"overlap"}},
      {"L zero", with(base(), {"--L", "0", "--out", out}), {"L", "between 1 and 256", "got 0"}},
      {"L absurd", with(base(), {"--L", "100000", "--out", out}), {"L", "between 1 and 256"}},
      {"size with width", with(base(), {"--width", "64", "--out", out}), {"--size", "--width"}},
      {"quiet with log-json", with(base(), {"--quiet", "--log-json", "--out", out}), {"--quiet", "--log-json"}},
      {"no output", base(), {"--out"}},
      {"no source", {"animate", "--motion", motion(), "--out", out}, {"--source"}},
      {"output folder is a file", with(base(), {"--out", "{T}/a_file/x.mp4"}), {"{T}/a_file", "not a folder"}},
      {"output is a folder", with(base(), {"--out", "{T}/a_folder"}), {"{T}/a_folder", "folder"}},
      {"output folder not writable (proc)", with(base(), {"--out", "/proc/magicanimate-test/x.mp4"}), {"not writable"}},
      {"frames-out is a file", with(base(), {"--out", out, "--frames-out", "{T}/a_file"}), {"{T}/a_file"}},
      {"grid same as output", with(base(), {"--out", out, "--grid", out}), {"same path"}},
      {"output overwrites the source", with(base(), {"--out", source()}), {"same path", "source"}},
      {"seed below -1", with(base(), {"--seed", "-2", "--out", out}), {"--seed"}},
      {"negative max-frames", with(base(), {"--max-frames", "-1", "--out", out}), {"--max-frames"}},
      {"negative fps", with(base(), {"--fps", "-5", "--out", out}), {"fps"}},
      {"negative threads", with(base(), {"--threads", "-1", "--out", out}), {"--threads"}},
      {"unknown device", with(base(), {"--device", "gpu", "--out", out}), {"unknown device 'gpu'"}},
      {"out-dir without config", with(base(), {"--out-dir", "{T}/out", "--out", out}), {"--out-dir"}},
      {"models folder missing", with(base(), {"--out", out}), {"{T}/no-models"}},
      {"model part missing",
       with(base(models_dir()), {"--motion-module", "{T}/none.ckpt", "--out", out}),
       {"{T}/none.ckpt", "(1)"}},
  };
  for (const BadCase& c : cases) expect_refused(c);
}

// --device cuda on a libtorch without CUDA (or a machine without a GPU) is one
// line before any input or model is read.
TEST_F(AnimateCli, RefusesACudaDeviceThisBuildCannotUse) {
  if (at::hasCUDA()) GTEST_SKIP() << "this libtorch has a usable CUDA device";
  expect_refused({"cuda device", with(base(), {"--device", "cuda", "--out", tmp / "out/x.mp4"}), {"--device cuda: "}});
  expect_refused({"cuda:1 device", with(base(), {"--device", "cuda:1", "--out", tmp / "out/x.mp4"}), {"--device cuda:1: "}});
}

TEST_F(AnimateCli, RefusesUnwritableOutputFolder) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may write into a read-only folder (the /proc case covers root)";
  fs::create_directories(tmp / "out/locked");
  fs::permissions(tmp / "out/locked", fs::perms::owner_read | fs::perms::owner_exec);
  expect_refused({"read-only folder", with(base(), {"--out", "{T}/out/locked/x.mp4"}), {"not writable"}});
}

// The original's config files: the same one-line refusals before any model loads.
TEST_F(AnimateCli, RefusesBadConfigFiles) {
  auto write_config = [&](const std::string& name, const std::string& extra, const std::string& skip_key = "") {
    std::ofstream f(tmp / name);
    const std::vector<std::pair<std::string, std::string>> keys = {
        {"pretrained_model_path", "\"" + models_dir() + "/stable-diffusion-v1-5\""},
        {"pretrained_vae_path", "\"" + models_dir() + "/sd-vae-ft-mse\""},
        {"pretrained_controlnet_path", "\"" + models_dir() + "/MagicAnimate/densepose_controlnet\""},
        {"pretrained_appearance_encoder_path", "\"" + models_dir() + "/MagicAnimate/appearance_encoder\""},
        {"motion_module", "\"" + models_dir() + "/MagicAnimate/temporal_attention/temporal_attention.ckpt\""},
        {"savename", "\"bad\""},
        {"seed", "[1]"},
        {"steps", "3"},
        {"guidance_scale", "7.5"},
        {"source_image", "[\"" + source() + "\"]"},
        {"video_path", "[\"" + motion() + "\"]"},
        {"size", "64"},
        {"L", "16"}};
    for (const auto& [k, v] : keys)
      if (k != skip_key && extra.find(k + ":") == std::string::npos) f << k << ": " << v << "\n";
    f << extra;
  };
  write_config("no_steps.yaml", "", "steps");
  write_config("fusion.yaml", "fusion_blocks: \"full\"\n");
  write_config("zero_L.yaml", "L: 0\n");
  write_config("bad_size.yaml", "size: 100\n");
  write_config("missing_source.yaml", "source_image: [\"" + tmp / "nope.png" + "\"]\n");
  write_config("scheduler.yaml", "inference_config: \"" + tmp / "inference.yaml" + "\"\n");
  std::ofstream(tmp / "inference.yaml") << "noise_scheduler_kwargs:\n  beta_start: 0.001\n  beta_end: 0.012\n";
  write_config("bad_seed.yaml", "seed: [abc]\n");
  write_config("good.yaml", "");
  std::ofstream(tmp / "broken.yaml") << "steps: [unclosed\n";

  auto config = [&](const std::string& name) {
    return std::vector<std::string>{"animate", "--config", tmp / name, "--out-dir", tmp / "out"};
  };
  const std::vector<BadCase> cases = {
      {"missing config", config("nope.yaml"), {"{T}/nope.yaml"}},
      {"unparsable config", config("broken.yaml"), {"{T}/broken.yaml"}},
      {"missing key", config("no_steps.yaml"), {"steps", "missing"}},
      {"unsupported fusion_blocks", config("fusion.yaml"), {"fusion_blocks"}},
      {"L zero", config("zero_L.yaml"), {"{T}/zero_L.yaml", "L", "between 1 and 256"}},
      {"window flag with config", with(config("fusion.yaml"), {"--context", "8"}), {"--context", "--config"}},
      {"L with config", with(config("fusion.yaml"), {"--L", "8"}), {"--L", "--config"}},
      {"size not a multiple of 8", config("bad_size.yaml"), {"multiple of 8"}},
      {"source listed but missing", config("missing_source.yaml"), {"{T}/nope.png"}},
      {"unsupported scheduler", config("scheduler.yaml"), {"beta_start"}},
      {"bad seed", config("bad_seed.yaml"), {"seed", "abc"}},
      {"unknown scheduler with config",
       with(config("good.yaml"), {"--scheduler", "dpm"}),
       {"scheduler must be one of ddim, dpmpp-2m", "got 'dpm'"}},
      {"per-run flag with config", with(config("fusion.yaml"), {"--steps", "5"}), {"--steps", "--config"}},
      {"output flag with config", with(config("fusion.yaml"), {"--out", tmp / "out/x.mp4"}), {"--out"}},
  };
  for (const BadCase& c : cases) expect_refused(c);
}

TEST_F(AnimateCli, HelpDocumentsEveryOptionWithDefaults) {
  CliResult r = run_cli({"animate", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* flag : {"--models",     "--source",
                           "--motion",     "--out",
                           "--size",       "--width",
                           "--height",     "--steps",
                           "--scheduler",
                           "--guidance",   "--seed",
                           "--context",    "--overlap",
                           "--L",
                           "--prompt",     "--negative-prompt",
                           "--max-frames", "--offset",
                           "--fps",        "--frames-out",
                           "--grid",       "--sd",
                           "--vae",        "--appearance-encoder",
                           "--controlnet", "--motion-module",
                           "--threads",    "--quiet",
                           "--device",     "--dtype",
                           "--log-json",   "--config",
                           "--out-dir",    "--extract-pose",
                           "--pose-out"})
    EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string("(^|[\\s,])") + flag + "[\\s=]"))) << flag;
  // Defaults of the contract, as CLI11 prints them ("--steps N=25").
  for (const char* with_default :
       {"--size N=512", "--steps N=25", "--scheduler NAME=ddim", "--guidance G=7.5", "--seed N=1", "--context N=16", "--overlap N=4",
        "--L N=16", "--threads N=0", "--max-frames N=0", "--offset N=0", "--fps F=0", "--models DIR=pretrained_models", "--device DEV=cpu", "--dtype TYPE=fp32"})
    EXPECT_NE(r.out.find(with_default), std::string::npos) << with_default;
  EXPECT_NE(r.out.find("samples/<savename>/videos/<source>_<video>.mp4"), std::string::npos);
  EXPECT_NE(r.out.find("130"), std::string::npos) << "exit status of a cancelled run";
}

}  // namespace
}  // namespace ma::test
