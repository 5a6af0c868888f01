// The shipped demo model (models/demo, made by scripts/train-demo.sh): a sound
// models folder at its native size, and an animation of a synthetic clip it
// never saw that beats repeating the reference frame where the person is.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli_runner.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

const std::string kDemo = std::string(MA_SOURCE_DIR) + "/models/demo";

// Until scripts/train-demo.sh's model is committed (issue #14), there is nothing to test.
#define SKIP_WITHOUT_DEMO_MODEL()                                                                  \
  if (!fs::exists(kDemo + "/magicanimate.json"))                                                 \
  GTEST_SKIP() << "models/demo is not in this checkout (scripts/train-demo.sh makes it)"

TEST(DemoModel, PassesCheckModelsAtItsNativeSize) {
  SKIP_WITHOUT_DEMO_MODEL();
  test::CliResult r = test::run_cli({"check-models", kDemo});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("all model parts pass"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("native size 64x64"), std::string::npos) << r.out;
  // At most 40 MB in all (the budget for a model in the repository).
  uintmax_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(kDemo))
    if (e.is_regular_file()) bytes += e.file_size();
  EXPECT_LE(bytes, 40u * 1000 * 1000);
}

double masked_psnr(const std::string& pred, const std::string& clip) {
  test::CliResult r = test::run_cli({"eval", "--pred", pred, "--gt", clip + "/images", "--mask", clip + "/masks",
                                     "--mask-union-first", "--skip-first", "--protocol", "fixed", "--metrics", "psnr", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out).at("psnr").get<double>();
}

// A held-out synthetic clip (seed 7777: not a training seed), reference = its
// first frame, motion = its DensePose frames; masked PSNR on the union of each
// frame's person mask and the reference's, frames after the reference, plain
// MSE PSNR, as docs/demo-model.md measures.
TEST(DemoModel, AnimationBeatsRepeatingTheReference) {
  SKIP_WITHOUT_DEMO_MODEL();
  test::TempDir dir;
  const std::string data = dir / "data", clip = dir / "data/clip_0000", pred = dir / "pred", copy = dir / "copy";
  ASSERT_EQ(test::run_cli({"synth", "--out", data, "--clips", "1", "--frames", "16", "--size", "64", "--seed", "7777",
                           "--quiet"})
                .exit_code,
            0);
  test::CliResult r = test::run_cli({"animate", "--models", kDemo, "--source", clip + "/images/0000.png", "--motion",
                                     clip + "/densepose", "--context", "8", "--steps", "20", "--seed", "1", "--out",
                                     dir / "a.mp4", "--frames-out", pred, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::create_directories(copy);
  for (const auto& e : fs::directory_iterator(clip + "/images")) fs::copy_file(clip + "/images/0000.png", fs::path(copy) / e.path().filename());
  const double model = masked_psnr(pred, clip), reference = masked_psnr(copy, clip);
  std::cout << "masked PSNR: demo model " << model << " dB, reference copy " << reference << " dB\n";
  // Measured on the second and third, unshipped runs (docs/demo-model.md, frames 2-16, plain PSNR): 14.0 dB against
  // 18.6 both times, a failure. Asserted for the model that ships: at least 1 dB better than the copy.
  EXPECT_GT(model, reference + 1.0);
}

}  // namespace
}  // namespace ma
