// The settings stated once: the shared command-line table (cli/options.h)
// binds the library's own defaults and checks, and --device refuses what this
// build cannot run with one line.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <string>
#include <vector>

#include "cli/options.h"
#include "models/motion_module.h"
#include "pipeline/animation.h"
#include "serve/job.h"
#include "util/device.h"
#include "test_util.h"
#include "util/error.h"

namespace ma {
namespace {

using test::error_of;

TEST(ParseDevice, AcceptsCpu) { EXPECT_EQ(parse_device("cpu"), at::Device(at::kCPU)); }

TEST(ParseDevice, RefusesBadSpellingsWithOneLine) {
  for (const char* bad : {"", "gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:0:1", "cuda0", "mps"}) {
    const std::string msg = error_of([&] { (void)parse_device(bad); });
    EXPECT_NE(msg.find("unknown device '" + std::string(bad) + "'"), std::string::npos) << bad << ": " << msg;
    EXPECT_NE(msg.find("cpu, cuda or cuda:N"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(ParseDevice, CudaDeviceNeedsACudaBuildAndThatGpu) {
  if (at::hasCUDA()) {
    EXPECT_EQ(parse_device("cuda"), at::Device(at::kCUDA, 0));
    const std::string msg = error_of([] { (void)parse_device("cuda:999"); });
    EXPECT_NE(msg.find("--device cuda:999: no such GPU"), std::string::npos) << msg;
    return;
  }
  // This libtorch (Debian's CPU build in CI): every CUDA spelling is refused, naming itself.
  for (const char* name : {"cuda", "cuda:0", "cuda:3"}) {
    const std::string msg = error_of([&] { (void)parse_device(name); });
    EXPECT_EQ(msg.rfind("--device " + std::string(name) + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("CUDA"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(Settings, WindowLimitIsTheMotionModules) {
  EXPECT_EQ(kMaxContextFrames, MotionModuleConfig{}.max_frames);
  AnimationParams p;
  p.context = kMaxContextFrames;
  EXPECT_NO_THROW(p.validate());
  p.context = kMaxContextFrames + 1;
  EXPECT_NE(error_of([&] { p.validate(); }).find("context must be between 1 and " + std::to_string(kMaxContextFrames)),
            std::string::npos);
}

TEST(Settings, ValidateNamesTheSetting) {
  struct Case {
    void (*change)(AnimationParams&);
    const char* name;
  } cases[] = {{[](AnimationParams& p) { p.width = 60; }, "width"},
               {[](AnimationParams& p) { p.height = 0; }, "height"},
               {[](AnimationParams& p) { p.steps = 0; }, "steps"},
               {[](AnimationParams& p) { p.scheduler = "euler"; }, "scheduler"},
               {[](AnimationParams& p) { p.guidance = -1; }, "guidance"},
               {[](AnimationParams& p) { p.context = 0; }, "context"},
               {[](AnimationParams& p) { p.overlap = p.context; }, "overlap"},
               {[](AnimationParams& p) { p.deep_cache = 0; }, "deep-cache"}};
  EXPECT_NO_THROW(AnimationParams{}.validate());
  for (const Case& c : cases) {
    AnimationParams p;
    c.change(p);
    EXPECT_EQ(error_of([&] { p.validate(); }).rfind(c.name, 0), 0u) << c.name;
  }
  EngineOptions e;
  EXPECT_NO_THROW(e.validate());
  e.threads = -1;
  EXPECT_NE(error_of([&] { e.validate(); }).find("threads"), std::string::npos);
}

TEST(Settings, ServerJobDefaultsAreTheEngines) {
  const serve::JobParams job;
  const AnimationParams engine;
  EXPECT_EQ(job.width, engine.width);
  EXPECT_EQ(job.height, engine.height);
  EXPECT_EQ(job.steps, engine.steps);
  EXPECT_EQ(job.scheduler, engine.scheduler);
  EXPECT_EQ(job.guidance, engine.guidance);
  EXPECT_EQ(job.seed, engine.seed);
  EXPECT_EQ(job.context, engine.context);
  EXPECT_EQ(job.overlap, engine.overlap);
  EXPECT_EQ(job.deep_cache, engine.deep_cache);
  serve::JobParams square;
  square.set_size(64);
  square.steps = 3;
  const AnimationParams a = square.animation();
  EXPECT_EQ(a.width, 64);
  EXPECT_EQ(a.height, 64);
  EXPECT_EQ(a.steps, 3);
}

// Parses `args` (after the program name) on a command holding the shared options.
struct Parsed {
  cli::ModelFlags models;
  cli::EngineFlags engine;
  cli::OutputFlags output;
  AnimationParams params;
};

void parse(Parsed& p, std::vector<std::string> args) {
  CLI::App app{"test"};
  cli::add_model_options(app, p.models);
  cli::add_engine_options(app, p.engine);
  cli::add_output_options(app, p.output);
  cli::add_sampling_options(app, p.params, "Sampling");
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  app.parse(args);
}

TEST(SharedOptions, DefaultsAreTheLibrarys) {
  Parsed p;
  parse(p, {});
  EXPECT_EQ(p.models.models, "pretrained_models");
  const EngineOptions e = cli::engine_options_from(p.engine);
  EXPECT_EQ(e.device, at::Device(at::kCPU));
  EXPECT_EQ(e.dtype, at::kFloat);
  EXPECT_EQ(e.threads, 0);
  EXPECT_FALSE(e.low_memory);
  EXPECT_EQ(cli::log_mode_from(p.output), cli::LogMode::normal);
  const AnimationParams d;
  EXPECT_EQ(p.params.steps, d.steps);
  EXPECT_EQ(p.params.scheduler, "ddim");
  EXPECT_EQ(p.params.guidance, d.guidance);
  EXPECT_EQ(p.params.context, d.context);
  EXPECT_EQ(p.params.overlap, d.overlap);
}

TEST(SharedOptions, BindsEveryFlag) {
  Parsed p;
  parse(p, {"--models", "m", "--vae", "v", "--motion-module", "mm.ckpt", "--dtype", "bf16", "--threads", "3",
            "--low-memory", "--log-json", "--steps", "7", "--scheduler", "dpmpp-2m", "--guidance", "2.5", "--context", "8", "--overlap", "2", "--deep-cache", "3"});
  EXPECT_EQ(p.models.models, "m");
  EXPECT_EQ(p.models.parts.vae, "v");
  EXPECT_EQ(p.models.parts.motion_module, "mm.ckpt");
  const EngineOptions e = cli::engine_options_from(p.engine);
  EXPECT_EQ(e.dtype, at::kBFloat16);
  EXPECT_EQ(e.threads, 3);
  EXPECT_TRUE(e.low_memory);
  EXPECT_EQ(cli::log_mode_from(p.output), cli::LogMode::json);
  EXPECT_EQ(p.params.steps, 7);
  EXPECT_EQ(p.params.scheduler, "dpmpp-2m");
  EXPECT_EQ(p.params.guidance, 2.5);
  EXPECT_EQ(p.params.context, 8);
  EXPECT_EQ(p.params.overlap, 2);
  EXPECT_EQ(p.params.deep_cache, 3);
}

TEST(SharedOptions, RefusesBadEngineAndOutputFlagsNamingThem) {
  Parsed threads, dtype, device, both;
  parse(threads, {"--threads", "-1"});
  parse(dtype, {"--dtype", "fp8"});
  parse(device, {"--device", "tpu"});
  parse(both, {"--quiet", "--log-json"});
  EXPECT_NE(error_of([&] { (void)cli::engine_options_from(threads.engine); }).find("--threads"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)cli::engine_options_from(dtype.engine); }).find("fp8"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)cli::engine_options_from(device.engine); }).find("tpu"), std::string::npos);
  EXPECT_NE(error_of([&] { (void)cli::log_mode_from(both.output); }).find("--log-json"), std::string::npos);
  // Low-memory mode keeps CPU weights in their files; a GPU's weights are
  // device copies (checked in the library, so a build without CUDA tests it too).
  EngineOptions gpu;
  gpu.device = at::Device(at::kCUDA, 0);
  gpu.low_memory = true;
  EXPECT_NE(error_of([&] { gpu.validate(); }).find("low-memory"), std::string::npos);
  gpu.low_memory = false;
  EXPECT_NO_THROW(gpu.validate());
}

}  // namespace
}  // namespace ma
