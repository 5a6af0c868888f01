// Parity with the original pipeline for windows other than 16. The cases in
// tests/data/cases/context8 and context12 were made by
// tests/data/gen/make_parity_case.py running the original's own code
// (magic-animate + diffusers v0.21.4) on the public case's inputs (20 frames
// at 64x64, 3 DDIM steps, guidance 7.5, seed 1) with L 16 and
//   context8:  context_frames 8, context_overlap 2 (windows straddle the
//              8-frame ControlNet blocks),
//   context12: context_frames 12, context_overlap 4 (32 frames are not whole
//              ControlNet blocks of 12: the original's last ControlNet window
//              wraps around; lean: no video, the steps' latents decide it).
// The original pads the motion to a multiple of L (animation.py:193-194),
// not of the window: both denoise 32 frames. Padding to a multiple of the
// window (24 frames) fails the first check below (and, as issue 10 measured
// on an 8-frame window, leaves frames up to 17 levels off).
// The cases share one expensive setup: tests/CMakeLists.txt runs them as one CTest test (ONE_PROCESS).
#include <gtest/gtest.h>

#include <map>

#include "weights/model_paths.h"
#include "weights/safetensors.h"
#include "pipeline/animation.h"
#include "tests/test_util.h"

namespace ma {
namespace {

// The same bars as the public case (pipeline_parity_test.cpp) and for the
// same reasons: fp32 with other kernels and summation orders than PyTorch's
// stays at the 1e-6 level per op; the guided prediction amplifies the halves'
// differences 7.5x and the reference bank goes through fp16 in the original.
constexpr double kTolerance = 1e-4;
constexpr double kGuidedTolerance = 2e-4;

struct Case {
  std::string name;
  int64_t context, overlap;
  bool has_video;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {{"context8", 8, 2, true}, {"context12", 12, 4, false}};
  return c;
}

struct CaseRun {
  TensorMap golden;
  std::map<std::string, at::Tensor> taps;
  at::Tensor golden_at(const std::string& key) const {
    auto it = golden.find(key);
    if (it == golden.end()) throw std::runtime_error("golden has no " + key);
    return it->second;
  }
  at::Tensor tap(const std::string& key) const {
    auto it = taps.find(key);
    if (it == taps.end()) throw std::runtime_error("engine did not record " + key);
    return it->second;
  }
};

// Runs the engine once per case on the golden inputs.
const CaseRun& run(const Case& c) {
  static std::map<std::string, CaseRun> runs;
  auto it = runs.find(c.name);
  if (it != runs.end()) return it->second;
  CaseRun r;
  r.golden = load_safetensors(test::data_dir() + "/cases/" + c.name + "/golden.safetensors");
  AnimationParams p;
  p.width = p.height = 64;
  p.steps = 3;
  p.guidance = 7.5;
  p.seed = 1;
  p.context = c.context;
  p.overlap = c.overlap;
  p.length_multiple = 16;  // the original's L
  static Animator animator(resolve_model_paths(test::models_dir()));
  const at::Tensor control = r.golden_at("input.control_u8").slice(0, 0, 20);  // the original 20 frames
  animator.animate(r.golden_at("input.source_image_u8"), control, p, {}, nullptr,
                   [&](const std::string& name, const at::Tensor& v) { r.taps[name] = v.to(at::kFloat).clone(); });
  return runs.emplace(c.name, std::move(r)).first->second;
}

TEST(ContextWindowParity, PadsToAMultipleOfLNotOfTheWindow) {
  for (const Case& c : cases()) {
    EXPECT_EQ(run(c).golden_at("input.control_u8").size(0), 32) << c.name << ": the original's padded motion";
    EXPECT_EQ(run(c).tap("step0.latents_in").size(2), 32) << c.name;
  }
}

TEST(ContextWindowParity, InitialNoiseIsBitIdentical) {
  for (const Case& c : cases())
    EXPECT_TRUE(at::equal(run(c).tap("pipeline.init_latents"), run(c).golden_at("pipeline.init_latents"))) << c.name;
}

TEST(ContextWindowParity, EveryStep) {
  for (const Case& c : cases()) {
    for (int i = 0; i < 3; ++i) {
      for (const char* part : {"latents_in", "noise_pred_guided", "latents_out"}) {
        const std::string key = "step" + std::to_string(i) + "." + part;
        const bool guided = std::string(part) == "noise_pred_guided";
        test::expect_close(run(c).tap(key), run(c).golden_at(key), guided ? kGuidedTolerance : kTolerance,
                           c.name + " " + key);
      }
    }
  }
}

TEST(ContextWindowParity, VideoFramesWithinOneLevel) {
  for (const Case& c : cases()) {
    if (!c.has_video) continue;
    const CaseRun& r = run(c);
    test::expect_close(r.tap("pipeline.video"), r.golden_at("pipeline.video"), kTolerance, c.name + " video");
    // The original's 8-bit output is (x * 255) truncated.
    at::Tensor ours = video_to_u8(r.tap("pipeline.video").squeeze(0).permute({1, 0, 2, 3})).to(at::kInt);
    at::Tensor theirs = video_to_u8(r.golden_at("pipeline.video").squeeze(0).permute({1, 0, 2, 3})).to(at::kInt);
    EXPECT_LE((ours - theirs).abs().max().item<int>(), 1) << c.name;
  }
}

}  // namespace
}  // namespace ma
