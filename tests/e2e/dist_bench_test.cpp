// `magicanimate bench --nproc 2` on the tiny fixture models: both runs are
// reported, and speed-up and efficiency follow from their times (the times
// themselves are the machine's, never asserted).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "test_util.h"

namespace ma::test {
namespace {

TEST(DistBench, ReportsSpeedupAndEfficiencyOfOneAndTwoProcesses) {
  CliResult r = run_cli({"bench", "--nproc", "2", "--models", models_dir(), "--size", "64", "--frames", "16",
                         "--steps", "1", "--threads", "1", "--json", "--quiet"});
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["runs"].size(), 2u);
  const auto& one = j["runs"][0];
  const auto& two = j["runs"][1];
  EXPECT_EQ(one["processes"], 1);
  EXPECT_EQ(two["processes"], 2);
  const double t1 = one["seconds"], t2 = two["seconds"];
  ASSERT_GT(t1, 0);
  ASSERT_GT(t2, 0);
  EXPECT_DOUBLE_EQ(two["speedup"].get<double>(), t1 / t2);
  EXPECT_DOUBLE_EQ(two["efficiency"].get<double>(), t1 / t2 / 2);
  EXPECT_EQ(one["allreduce_bytes_per_step"], 0) << "one process exchanges nothing";
  // 64 frames of 8x8x4 latents: uncond and cond sums plus one count per frame, fp32.
  EXPECT_EQ(two["allreduce_bytes_per_step"], 64 * (2 * 4 * 8 * 8 + 1) * 4);
  EXPECT_EQ(two["windows_per_step"], 6);
}

}  // namespace
}  // namespace ma::test
