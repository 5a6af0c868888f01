// `magicanimate bench --train` on the tiny fixture models' configs (random
// weights): every training component reports every figure, and the counted
// FLOPs are consistent (deterministic counts, never timings): backward
// convolutions are counted, and checkpointing adds the recomputed forward.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/flop_counter.h"
#include "tests/cli_runner.h"
#include "tests/test_util.h"

namespace ma {
namespace {

using Json = nlohmann::json;

const Json& report() {
  static Json j = [] {
    const test::CliResult r = test::run_cli({"bench", "--train", "--models", test::models_dir(), "--size", "64",
                                             "--frames", "2", "--json", "--quiet", "--threads", "1", "--gemm-size",
                                             "256"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << "--quiet printed: " << r.err;
    return r.exit_code == 0 ? Json::parse(r.out, nullptr, false) : Json();
  }();
  return j;
}

TEST(BenchTrain, EveryStepHasEveryFigure) {
  ASSERT_TRUE(report().is_object());
  EXPECT_TRUE(report().value("train", false));
  const Json& c = report()["components"];
  ASSERT_EQ(c.size(), 4u) << c.dump();
  for (const char* key : {"train_stage1_step", "train_stage1_step_checkpointed", "train_stage2_step",
                          "train_stage2_step_checkpointed"}) {
    ASSERT_TRUE(c.contains(key)) << key;
    for (const char* field : {"seconds", "gflop", "gflops", "peak_rss_mb"}) {
      ASSERT_TRUE(c[key].contains(field) && c[key][field].is_number()) << key << "." << field;
      EXPECT_GT(c[key][field].get<double>(), 0) << key << "." << field;
    }
  }
}

TEST(BenchTrain, CheckpointingRecomputesTheForward) {
  ASSERT_TRUE(report().is_object());
  const Json& c = report()["components"];
  for (const char* stage : {"train_stage1_step", "train_stage2_step"}) {
    const double plain = c[stage]["gflop"].get<double>();
    const double ckpt = c[std::string(stage) + "_checkpointed"]["gflop"].get<double>();
    // More work (the blocks' forward again), but less than a second full step.
    EXPECT_GT(ckpt, plain * 1.05) << stage;
    EXPECT_LT(ckpt, plain * 2.0) << stage;
  }
}

TEST(FlopCounter, CountsConvolutionBackward) {
  const at::Tensor x = at::randn({2, 8, 16, 16}).requires_grad_(true);
  const at::Tensor w = at::randn({4, 8, 3, 3}).requires_grad_(true);
  bench::FlopCounts forward, both;
  {
    bench::FlopCounter counter;
    at::Tensor y = at::conv2d(x, w, {}, 1, 1);
    forward = counter.counts();
    y.sum().backward();
    both = counter.counts();
  }
  const double expected = 2.0 * (2 * 4 * 16 * 16) * (8 * 3 * 3);
  EXPECT_DOUBLE_EQ(forward.conv, expected);
  EXPECT_DOUBLE_EQ(both.conv, 3 * expected) << "input and weight gradients each cost one forward";
}

}  // namespace
}  // namespace ma
