// `magicanimate bench` on the tiny fixture models' configs (random weights):
// the CI smoke run. Checks the JSON report's structure and the figures'
// consistency, never the timings themselves; and that bad options give one
// error line instead of a crash.
#include <gtest/gtest.h>

#include <torch/version.h>

#include <nlohmann/json.hpp>

#include "tests/cli_runner.h"
#include "tests/test_util.h"

namespace ma {
namespace {

using Json = nlohmann::json;

// One thread: this suite runs beside other builds on small machines, where a
// second OpenMP thread mostly waits at barriers. The figures do not depend on it.
std::vector<std::string> smoke_args() {
  return {"bench", "--models", test::models_dir(), "--size", "64", "--frames", "16", "--json", "--quiet",
          "--threads", "1", "--gemm-size", "512"};
}

const test::CliResult& smoke_run() {
  static test::CliResult r = test::run_cli(smoke_args());
  return r;
}

const Json& report() {
  static Json j = [] {
    const test::CliResult& r = smoke_run();
    if (r.exit_code != 0) return Json();
    return Json::parse(r.out, nullptr, false);
  }();
  return j;
}

TEST(BenchSmoke, ExitsCleanlyWithOneJsonObject) {
  const test::CliResult& r = smoke_run();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "--quiet printed: " << r.err;
  ASSERT_TRUE(report().is_object()) << r.out;
}

TEST(BenchSmoke, EveryComponentHasEveryFigure) {
  ASSERT_TRUE(report().is_object());
  const Json& j = report();
  ASSERT_TRUE(j.contains("gemm_peak_gflops"));
  EXPECT_GT(j["gemm_peak_gflops"].get<double>(), 0);
  ASSERT_TRUE(j.contains("components"));
  const Json& c = j["components"];
  for (const char* key : {"text_encoder", "vae_encode_reference", "appearance_encoder", "controlnet_frame",
                          "unet3d_window", "controlnet_frame_shallow", "unet3d_window_shallow", "vae_decode_frame",
                          "denoise_step_16_frames", "denoise_step_32_frames", "end_to_end"}) {
    ASSERT_TRUE(c.contains(key)) << key;
    const Json& e = c[key];
    for (const char* field : {"seconds", "gflop", "gflops", "percent_of_peak", "peak_rss_mb"}) {
      ASSERT_TRUE(e.contains(field) && e[field].is_number()) << key << "." << field;
      EXPECT_GE(e[field].get<double>(), 0) << key << "." << field;
    }
    EXPECT_GT(e["seconds"].get<double>(), 0) << key;
    EXPECT_GT(e["gflop"].get<double>(), 0) << key;
    EXPECT_GT(e["peak_rss_mb"].get<double>(), 0) << key;
    // The derived figures agree with the measured ones, up to the rounding of the JSON:
    // gflop has 4 decimals and seconds 6, so gflop/seconds carries a relative error of at
    // most 0.5e-4/gflop + 0.5e-6/seconds (a tiny model's text encoder is ~0.001 GFLOP, where
    // that alone is ~5%), and gflops itself has 3 decimals.
    const double gflop = e["gflop"].get<double>(), seconds = e["seconds"].get<double>();
    const double gflops = gflop / seconds;
    const double rounding = gflops * (0.5e-4 / gflop + 0.5e-6 / seconds) + 0.5e-3;
    EXPECT_NEAR(e["gflops"].get<double>(), gflops, 1.01 * rounding + 1e-9) << key;
    EXPECT_NEAR(e["percent_of_peak"].get<double>(), 100 * e["gflops"].get<double>() / j["gemm_peak_gflops"].get<double>(),
                0.02 * e["percent_of_peak"].get<double>() + 0.02)
        << key;
  }
  EXPECT_EQ(c.size(), 11u);
}

TEST(BenchSmoke, FlopCountsAreConsistentAcrossComponents) {
  ASSERT_TRUE(report().is_object());
  const Json& c = report()["components"];
  auto gflop = [&](const char* key) { return c[key]["gflop"].get<double>(); };
  // A 16-frame step runs the appearance encoder, ControlNet on 16 frames and
  // one 16-frame window: the parts add up to it (the DDIM arithmetic is not counted).
  const double parts = gflop("appearance_encoder") + 16 * gflop("controlnet_frame") + gflop("unet3d_window");
  EXPECT_NEAR(gflop("denoise_step_16_frames"), parts, 0.01 * parts);
  // 32 frames, windows of 16 overlapping by 4: starts 0, 12, 24 -> three windows.
  const double parts32 = gflop("appearance_encoder") + 32 * gflop("controlnet_frame") + 3 * gflop("unet3d_window");
  EXPECT_NEAR(gflop("denoise_step_32_frames"), parts32, 0.01 * parts32);
  // End to end (1 step) = text twice + reference encoding + the step + decoding 16 frames.
  const double e2e = 2 * gflop("text_encoder") + gflop("vae_encode_reference") + gflop("denoise_step_16_frames") +
                     16 * gflop("vae_decode_frame");
  EXPECT_NEAR(gflop("end_to_end"), e2e, 0.01 * e2e);
  // --deep-cache reuse steps run the shallow branches only: less than the
  // full networks, and more than nothing (their first and last blocks).
  EXPECT_LT(gflop("unet3d_window_shallow"), 0.9 * gflop("unet3d_window"));
  EXPECT_GT(gflop("unet3d_window_shallow"), 0.05 * gflop("unet3d_window"));
  EXPECT_LT(gflop("controlnet_frame_shallow"), 0.9 * gflop("controlnet_frame"));
  EXPECT_GT(gflop("controlnet_frame_shallow"), 0);
  // The UNet window counts all three kinds of op.
  for (const char* op : {"conv", "linear", "attention"})
    EXPECT_GT(c["unet3d_window"]["gflop_by_op"][op].get<double>(), 0) << op;
}

TEST(BenchSmoke, ReportsTheMachineAndSettings) {
  ASSERT_TRUE(report().is_object());
  const Json& j = report();
  EXPECT_EQ(j["size"], 64);
  EXPECT_EQ(j["frames"], 16);
  EXPECT_EQ(j["dtype"], "fp32");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_GT(j["weights_mb"].get<double>(), 0);
  EXPECT_GE(j["process_peak_rss_mb"].get<double>(), j["rss_after_load_mb"].get<double>() - 1);
  EXPECT_TRUE(j["machine"].contains("cpu"));
  EXPECT_TRUE(j["machine"].contains("blas"));
}

TEST(BenchSmoke, OnlyRunsTheChosenComponents) {
  test::CliResult r = test::run_cli({"bench", "--models", test::models_dir(), "--size", "64", "--frames", "4",
                                     "--json", "--quiet", "--threads", "1", "--gemm-size", "256", "--only",
                                     "controlnet_frame,denoise_step_8_frames"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  ASSERT_EQ(j["components"].size(), 2u) << r.out;
  EXPECT_TRUE(j["components"].contains("controlnet_frame"));
  EXPECT_TRUE(j["components"].contains("denoise_step_8_frames"));
}

TEST(BenchSmoke, TableByDefault) {
  test::CliResult r = test::run_cli({"bench", "--models", test::models_dir(), "--size", "64", "--frames", "2",
                                     "--quiet", "--threads", "1", "--gemm-size", "256", "--only", "unet3d_window"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GEMM peak"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unet3d_window"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("{"), std::string::npos) << r.out;
}

TEST(BenchSmoke, BadOptionsGiveOneErrorLine) {
  const std::vector<std::vector<std::string>> bad = {
      {"--size", "7"},      {"--size", "96"},    {"--frames", "0"},  {"--frames", "25"}, {"--dtype", "fp8"},
      {"--threads", "-1"},  {"--steps", "0"},    {"--only", "unet"}, {"--gemm-size", "1"},
      {"--models", "/nonexistent/models"}};
  for (const auto& extra : bad) {
    std::vector<std::string> args = {"bench", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    test::CliResult r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << extra[0] << " " << extra[1] << ": " << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1) << extra[0] << " " << extra[1] << ": " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(BenchSmoke, Float16IsRefusedClearlyOrRuns) {
  test::CliResult r = test::run_cli({"bench", "--models", test::models_dir(), "--size", "64", "--frames", "2",
                                     "--json", "--quiet", "--threads", "1", "--gemm-size", "256", "--dtype", "fp16",
                                     "--only", "controlnet_frame"});
#if TORCH_VERSION_MAJOR < 2
  // libtorch 1.13's CPU kernels have no float16 matmul/convolution.
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("fp16"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not supported"), std::string::npos) << r.err;
#else
  if (r.exit_code != 0) {
    EXPECT_NE(r.err.find("fp16"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(Json::parse(r.out)["dtype"], "fp16");
  }
#endif
}

}  // namespace
}  // namespace ma
