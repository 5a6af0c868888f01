// `train --dtype bf16`: weights, activations and the AdamW state in
// bfloat16 (the loss itself is float32). A few steps on the tiny models give
// finite losses within 1% of the fp32 run's: bfloat16 keeps 8 significant
// bits (relative rounding 2^-9 = 0.2% per op), the losses measured differ by
// at most 0.25%; 1% leaves room for other kernels while still catching a
// wrong cast or scale (those move the loss by far more).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/temp_dir.h"
#include "tests/test_util.h"
#include "tests/tiny_train.h"
#include "tests/train_data.h"
#include "train/trainer.h"

namespace ma {
namespace {

std::vector<double> losses(int stage, at::ScalarType dtype, bool checkpointing) {
  test::TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 2);
  train::TrainOptions o = test::tiny_train_options(stage, data.path(), out.path());
  o.optim.lr = 1e-4;
  o.seed = 5;
  o.dtype = dtype;
  o.gradient_checkpointing = checkpointing;
  train::Trainer t(o);
  std::vector<double> out_losses;
  for (int i = 0; i < 3; ++i) out_losses.push_back(t.train_step().loss);
  return out_losses;
}

void compare(int stage, bool checkpointing) {
  const std::vector<double> fp32 = losses(stage, at::kFloat, false), bf16 = losses(stage, at::kBFloat16, checkpointing);
  for (size_t i = 0; i < fp32.size(); ++i) {
    EXPECT_TRUE(std::isfinite(bf16[i])) << "step " << i + 1;
    EXPECT_NEAR(bf16[i], fp32[i], 1e-2 * fp32[i]) << "stage " << stage << " step " << i + 1;
    std::cout << "stage " << stage << " step " << i + 1 << ": fp32 " << fp32[i] << ", bf16 " << bf16[i] << "\n";
  }
}

TEST(TrainBf16, Stage1CloseToFp32) { compare(1, false); }
TEST(TrainBf16, Stage2CloseToFp32) { compare(2, false); }
TEST(TrainBf16, Stage2CheckpointedCloseToFp32) { compare(2, true); }

}  // namespace
}  // namespace ma
