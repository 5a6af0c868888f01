// `magicanimate train` as a user runs it (MA_BINARY): bad datasets fail with
// one line and write nothing; a checkpoint is a models folder that
// `check-models` and `animate` take as it is; --log-json prints one object
// per step.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "tests/cli_runner.h"
#include "tests/test_util.h"
#include "tests/train_data.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

using test::TempDir;

std::vector<std::string> train_args(const std::string& data, const std::string& out, const std::string& stage,
                                    const std::string& steps) {
  return {"train", "--stage", stage, "--models", test::models_dir(), "--data", data, "--out", out, "--size", "64",
          "--frames", "3", "--steps", steps, "--lr", "1e-3", "--threads", "2"};
}

TEST(TrainCli, HelpDocumentsEveryOption) {
  const auto r = test::run_cli({"train", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* opt : {"--stage", "--models", "--data", "--out", "--size", "--width", "--height", "--frames",
                          "--batch", "--steps", "--lr", "--warmup", "--trainable", "--tau0", "--tau1", "--tau2",
                          "--ref-drop", "--grad-accum", "--clip-grad", "--weight-decay", "--save-every", "--keep",
                          "--validate-every", "--resume", "--seed", "--threads", "--dtype",
                          "--gradient-checkpointing", "--log-json", "--quiet", "--skip-bad", "--motion-module",
                          "--lr-schedule", "--ema-decay", "--snr-gamma"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST(TrainCli, BadDatasetsFailWithOneLineAndWriteNothing) {
  struct Case {
    const char* name;
    std::function<void(const std::string&)> breakit;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"missing pose folder", [](const std::string& d) { fs::remove_all(d + "/clip/densepose"); }, "no pose video"},
      {"unequal counts", [](const std::string& d) { fs::remove(d + "/clip/images/0001.png"); }, "frames in"},
      {"unreadable frame", [](const std::string& d) { std::ofstream(d + "/clip/densepose/0002.png") << "garbage"; },
       "0002.png"},
      {"empty folder",
       [](const std::string& d) {
         fs::remove_all(d + "/clip");
         fs::create_directories(d + "/clip/images");
         fs::create_directories(d + "/clip/densepose");
       },
       "clip"},
  };
  for (const Case& c : cases) {
    TempDir data, parent;
    test::make_tiktok_clip(data.path(), "clip", 3, 32, 32, 1);
    c.breakit(data.path());
    const std::string out = parent / "out";
    const auto r = test::run_cli(train_args(data.path(), out, "1", "1"));
    EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.name << ": " << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.name << ": wrote " << out;
  }
}

TEST(TrainCli, CheckpointLoadsInCheckModelsAndAnimate) {
  TempDir data, work;
  test::make_tiktok_clip(data.path(), "clip", 4, 64, 64, 2);
  const std::string out = work / "out";
  auto args = train_args(data.path(), out, "1", "2");
  args.push_back("--log-json");
  const auto r = test::run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int steps = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("event", "") != "step") continue;
    ++steps;
    for (const char* k : {"step", "steps", "loss", "lr", "grad_norm", "seconds", "eta_s", "kind"})
      EXPECT_TRUE(j.contains(k)) << k << " missing in " << line;
  }
  EXPECT_EQ(steps, 2);
  EXPECT_EQ(test::count_lines(test::read_text_file(out + "/train.jsonl")), 2);

  const auto check = test::run_cli({"check-models", out + "/latest"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  const auto anim = test::run_cli({"animate", "--models", out + "/latest", "--source",
                                   data.path() + "/clip/images/0000.png", "--motion", data.path() + "/clip/densepose",
                                   "--out", work / "result.mp4", "--size", "64", "--steps", "2", "--quiet"});
  EXPECT_EQ(anim.exit_code, 0) << anim.err;
  EXPECT_TRUE(fs::exists(work / "result.mp4"));

  // A second run into the same folder must say how to continue instead of mixing runs.
  const auto again = test::run_cli(train_args(data.path(), out, "1", "3"));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--resume latest"), std::string::npos) << again.err;
  auto resume = train_args(data.path(), out, "1", "3");
  resume.insert(resume.end(), {"--resume", "latest", "--quiet"});
  const auto cont = test::run_cli(resume);
  EXPECT_EQ(cont.exit_code, 0) << cont.err;
  EXPECT_TRUE(fs::exists(out + "/checkpoint-3"));
  EXPECT_EQ(test::count_lines(test::read_text_file(out + "/train.jsonl")), 3);
}

}  // namespace
}  // namespace ma
