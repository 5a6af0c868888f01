// End-to-end parity with the original MagicAnimate pipeline on the public
// fixture case (tiny random-weight models, 20 frames at 64x64, 3 DDIM steps,
// window 16 / overlap 4, guidance 7.5, seed 1): every intermediate tensor the
// original recorded is compared.
// The cases share one expensive setup: tests/CMakeLists.txt runs them as one CTest test (ONE_PROCESS).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <map>

#include "weights/model_paths.h"
#include "pipeline/animation.h"
#include "pipeline/context_windows.h"
#include "diffusion/ddim.h"
#include "tests/public_case.h"
#include "tests/test_util.h"

namespace ma {
namespace {

// fp32 throughout, but with other kernels and summation orders than PyTorch's:
// differences stay at the 1e-6 level per op and grow through ~100 layers and 3
// steps; 1e-4 of each tensor's scale is the bar and far below what a
// wrong layer, window or guidance rule produces (>= 1e-2, see the checks below).
constexpr double kTolerance = 1e-4;

// The guided noise prediction is uncond + 7.5 (cond - uncond): it amplifies
// the tiny differences of its two halves 7.5x, and the reference bank passes
// through fp16 (the original's quirk), where a last-bit fp32 difference can
// flip a rounding. One element of step 0 (frame 18) lands 1.3e-4 off; the same
// engine run in float64 shows the same offset, so it is the original's own
// fp32 rounding at that element. The latents it produces stay within 1e-4.
// On libtorch 2.6 that element measures 2.19e-4 (its kernels round other last
// bits before the fp16 bank); latents and frames still pass their own bounds
// there, so 3e-4: 1.4x the worst measured, still 30x below a wrong rule.
constexpr double kGuidedTolerance = 3e-4;

// Runs the engine once on the golden inputs and keeps every tapped tensor.
const std::map<std::string, at::Tensor>& engine_taps() {
  static const std::map<std::string, at::Tensor> taps = test::run_public_case();
  return taps;
}

at::Tensor tap(const std::string& name) {
  auto it = engine_taps().find(name);
  if (it == engine_taps().end()) throw std::runtime_error("engine did not record " + name);
  return it->second;
}

TEST(PipelineParity, TextEmbeddings) {
  test::expect_close(tap("text.embeddings0"), test::golden("text.embeddings0"), kTolerance, "text.embeddings0");
  test::expect_close(tap("text.embeddings1"), test::golden("text.embeddings1"), kTolerance, "text.embeddings1");
}

TEST(PipelineParity, ReferenceLatents) {
  test::expect_close(tap("pipeline.ref_latents"), test::golden("pipeline.ref_latents"), kTolerance, "ref_latents");
}

TEST(PipelineParity, InitialNoiseIsBitIdentical) {
  EXPECT_TRUE(at::equal(tap("pipeline.init_latents"), test::golden("pipeline.init_latents")));
}

TEST(PipelineParity, InitialNoiseRepeatsEvery16Frames) {
  // The check above would catch noise drawn for all 32 frames at once.
  at::Generator g = at::detail::createCPUGenerator(1);
  at::Tensor unrepeated = at::randn({1, 4, 32, 8, 8}, g, at::TensorOptions().dtype(at::kFloat));
  EXPECT_FALSE(at::equal(unrepeated, test::golden("pipeline.init_latents")));
}

TEST(PipelineParity, Timesteps) {
  at::Tensor expected = test::golden("pipeline.timesteps").to(at::kLong);
  std::vector<int64_t> ours = DdimScheduler().timesteps(3);
  ASSERT_EQ(static_cast<int64_t>(ours.size()), expected.numel());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], expected[i].item<int64_t>());
}

TEST(PipelineParity, EveryStep) {
  for (int i = 0; i < 3; ++i) {
    for (const char* part : {"latents_in", "noise_pred_guided", "latents_out"}) {
      const std::string key = "step" + std::to_string(i) + "." + part;
      const bool guided = std::string(part) == "noise_pred_guided";
      test::expect_close(tap(key), test::golden(key), guided ? kGuidedTolerance : kTolerance, key);

    }
  }
}

TEST(PipelineParity, Video) {
  test::expect_close(tap("pipeline.video"), test::golden("pipeline.video"), kTolerance, "pipeline.video");
}

TEST(PipelineParity, PublicCaseFramesWithinOneLevel) {
  // frames/*.png are the original's 8-bit output: (x * 255) truncated.
  at::Tensor ours = video_to_u8(tap("pipeline.video").squeeze(0).permute({1, 0, 2, 3})).to(at::kInt);
  at::Tensor theirs = video_to_u8(test::golden("pipeline.video").squeeze(0).permute({1, 0, 2, 3})).to(at::kInt);
  EXPECT_LE((ours - theirs).abs().max().item<int>(), 1);
}

TEST(ContextWindows, UniformClosedLoop) {
  // 32 frames, window 16, overlap 4: starts 0, 12, 24; the last wraps around.
  auto w = uniform_windows(32, 16, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].front(), 0);
  EXPECT_EQ(w[1].front(), 12);
  EXPECT_EQ(w[2].front(), 24);
  EXPECT_EQ(w[2][8], 0);  // 24 + 8 = 32 -> frame 0
  EXPECT_EQ(w[2].back(), 7);
  EXPECT_EQ(uniform_windows(10, 16, 4).size(), 1u);
  EXPECT_EQ(uniform_windows(10, 16, 4)[0].size(), 10u);
  EXPECT_EQ(uniform_windows(32, 16, 0).size(), 2u);
}

}  // namespace
}  // namespace ma
