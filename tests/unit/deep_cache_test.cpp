// Deep-feature reuse (--deep-cache N, models/deep_cache.h) on the tiny models:
// the shallow branch is wired exactly (on the inputs of the full pass that
// stored the features it gives that pass's bits), ControlNet's shallow call
// gives the first residuals of a full one, N = 1 is the exact animation, and
// N = 2 is an approximation of it that runs fewer FLOPs.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include "bench/flop_counter.h"
#include "models/controlnet.h"
#include "nn/reference_bank.h"
#include "pipeline/animation.h"
#include "pipeline/model_loading.h"
#include "tests/test_util.h"
#include "weights/model_paths.h"

namespace ma {
namespace {

constexpr int64_t kFrames = 4, kLatent = 8;  // 64x64 frames: the tiny UNet's smallest size

struct TinyStep {
  std::unique_ptr<UNetModel> app, unet;
  std::unique_ptr<ControlNetModel> ctl;
  at::Tensor latents, cond, text_cond, text, ref;
  nn::ReferenceBank bank;

  TinyStep() {
    const ModelPaths paths = resolve_model_paths(test::models_dir());
    app = load_appearance_encoder(paths, {});
    ctl = load_controlnet(paths, {});
    unet = load_unet3d(paths, {});
    at::manual_seed(11);
    const int64_t c = unet->config().in_channels;
    latents = at::randn({kFrames, c, kLatent, kLatent});
    cond = at::rand({kFrames, 3, 8 * kLatent, 8 * kLatent});
    ref = at::randn({1, c, kLatent, kLatent});
    text_cond = at::randn({1, 77, unet->config().cross_attention_dim});
    text = at::cat({at::randn_like(text_cond), text_cond}, 0);
    bank.start_write();
    app->forward(ref, 500.0, text_cond, 1, nullptr, &bank);
    bank.start_read();
  }
  at::Tensor window(const ControlResiduals& r, DeepFeatureCache* deep) {
    return unet->forward(at::cat({latents, latents}, 0), 500.0, text, kFrames, &r, &bank, true, deep);
  }
};

TEST(DeepCache, ShallowPassOnTheStoringInputsGivesTheFullPassBits) {
  c10::InferenceMode inference;
  TinyStep s;
  const ControlResiduals full = s.ctl->forward(s.latents, 500.0, s.text_cond, s.cond);
  const ControlResiduals shallow = s.ctl->forward(s.latents, 500.0, s.text_cond, s.cond, 1.0, true);
  ASSERT_EQ(shallow.down.size(), s.unet->shallow_skip_count());
  EXPECT_FALSE(shallow.mid.defined());
  for (size_t i = 0; i < shallow.down.size(); ++i) EXPECT_TRUE(at::equal(shallow.down[i], full.down[i])) << i;

  const at::Tensor exact = s.window(full, nullptr);
  DeepFeatureCache deep;
  const at::Tensor stored = s.window(full, &deep);
  EXPECT_TRUE(at::equal(stored, exact)) << "storing must not change the full pass";
  ASSERT_TRUE(deep.stored());
  ASSERT_TRUE(deep.halves[1].deep.defined());
  // The conditional half read the reference bank up to the last up block.
  EXPECT_GT(deep.halves[1].reference_cursor, 0u);
  EXPECT_LT(deep.halves[1].reference_cursor, s.bank.entries.size());

  // Same inputs: the recomputed shallow layers equal the full pass's, and the
  // kept deep features are that pass's, so the output must be the same bits.
  deep.mode = DeepFeatureCache::Mode::kReuse;
  EXPECT_TRUE(at::equal(s.window(shallow, &deep), exact));
  // New latents: the shallow branch sees them (the output moves).
  s.latents = s.latents + 0.5 * at::randn_like(s.latents);
  const ControlResiduals moved = s.ctl->forward(s.latents, 500.0, s.text_cond, s.cond, 1.0, true);
  EXPECT_FALSE(at::allclose(s.window(moved, &deep), exact));
}

TEST(DeepCache, ReuseWithoutAStoredPassIsAnError) {
  c10::InferenceMode inference;
  TinyStep s;
  const ControlResiduals r = s.ctl->forward(s.latents, 500.0, s.text_cond, s.cond, 1.0, true);
  DeepFeatureCache deep;
  deep.mode = DeepFeatureCache::Mode::kReuse;
  EXPECT_THROW(s.window(r, &deep), Error);
}

TEST(DeepCache, FullStepsAreEveryNth) {
  for (int64_t i = 0; i < 7; ++i) EXPECT_TRUE(deep_cache_full_step(i, 1)) << i;
  const std::vector<bool> expected{true, false, false, true, false, false, true};
  for (int64_t i = 0; i < 7; ++i) EXPECT_EQ(deep_cache_full_step(i, 3), expected[static_cast<size_t>(i)]) << i;
}

TEST(DeepCache, IntervalOutOfRangeIsRefusedByName) {
  AnimationParams p;
  for (int64_t bad : {int64_t{0}, int64_t{-2}, kMaxDeepCacheInterval + 1}) {
    p.deep_cache = bad;
    try {
      p.validate();
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("deep-cache"), std::string::npos) << e.what();
    }
  }
}

struct Animation {
  at::Tensor video;
  double gflop = 0;
};

Animation animate(Animator& animator, int64_t deep_cache, int64_t steps, uint64_t seed = 4) {
  at::manual_seed(21);
  at::Tensor source = at::randint(0, 256, {64, 64, 3}, at::TensorOptions().dtype(at::kByte));
  at::Tensor control = at::randint(0, 256, {20, 64, 64, 3}, at::TensorOptions().dtype(at::kByte));
  AnimationParams p;
  p.width = p.height = 64;
  p.steps = steps;
  p.seed = seed;
  p.context = 8;
  p.overlap = 2;
  p.length_multiple = 4;
  p.deep_cache = deep_cache;
  Animation a;
  bench::FlopCounter counter;
  a.video = animator.animate(source, control, p);
  a.gflop = counter.counts().total() / 1e9;
  return a;
}

TEST(DeepCache, IntervalOneIsTheExactAnimationAndTwoApproximatesIt) {
  EngineOptions options;
  options.threads = 1;
  Animator animator(resolve_model_paths(test::models_dir()), options);
  const Animation exact = animate(animator, 1, 4);
  const Animation also_exact = animate(animator, 1, 4);
  ASSERT_TRUE(at::equal(exact.video, also_exact.video));
  const Animation reused = animate(animator, 2, 4);  // steps 0 and 2 full, 1 and 3 shallow
  ASSERT_EQ(reused.video.sizes(), exact.video.sizes());
  EXPECT_FALSE(at::isnan(reused.video).any().item<bool>());
  EXPECT_FALSE(at::equal(reused.video, exact.video)) << "the reuse steps did not run";
  // Frames in [0, 1]. An approximation of this animation, not another one:
  // its mean error is well under the difference that another noise seed
  // makes (the tiny random models give no measure of quality; the full-size
  // cost is in docs/performance.md).
  const double mean_error = (reused.video - exact.video).abs().mean().item<double>();
  const double seed_change = (animate(animator, 1, 4, 5).video - exact.video).abs().mean().item<double>();
  std::printf("deep cache 2 vs exact, 4 steps: mean |error| %.4f (another seed: %.4f); %.3f vs %.3f GFLOP\n",
              mean_error, seed_change, reused.gflop, exact.gflop);
  EXPECT_LT(mean_error, 0.5 * seed_change);
  // FLOPs of the denoising steps alone (the fixed parts, the VAE above all,
  // dominate at this size): 4 steps minus 2 steps is two steps' worth.
  const double two_steps = animate(animator, 1, 2).gflop;
  const double full_steps = exact.gflop - two_steps, reuse_steps = reused.gflop - two_steps;
  std::printf("two full steps %.3f GFLOP, two reuse steps %.3f GFLOP\n", full_steps, reuse_steps);
  EXPECT_GT(reuse_steps, 0);
  EXPECT_LT(reuse_steps, 0.9 * full_steps);
}

}  // namespace
}  // namespace ma
