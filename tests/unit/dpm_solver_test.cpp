// DPM-Solver++ 2M (`--scheduler dpmpp-2m`) against diffusers v0.21.4's
// DPMSolverMultistepScheduler configured as the original pipeline's DDIM
// config would give it (tests/data/schedulers/dpmpp_2m.safetensors, made by
// tests/data/gen/make_dpm_solver_case.py): the tables, the timesteps, which
// update each step takes, and whole runs on recorded model outputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>

#include "diffusion/ddim.h"
#include "diffusion/dpm_solver.h"
#include "diffusion/sampler.h"
#include "pipeline/animation.h"
#include "test_util.h"
#include "weights/model_paths.h"
#include "weights/weights.h"

namespace ma {
namespace {

const TensorMap& fixture() {
  static const TensorMap f = load_weights_as_stored(test::data_dir() + "/schedulers/dpmpp_2m.safetensors");
  return f;
}

const at::Tensor& entry(const std::string& key) {
  auto it = fixture().find(key);
  if (it == fixture().end()) throw std::runtime_error("fixture has no " + key);
  return it->second;
}

std::vector<int64_t> as_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Step outputs may differ from diffusers' by float32 rounding only: the solver
// does diffusers' float32 ops in diffusers' order (0-dim float32 coefficients,
// as diffusers' scalars are), so a difference can only be the last bits of an
// op that another build of libtorch computes differently; 1e-6 of the tensor's
// scale is a few float32 ulps carried through a run. Measured with Debian's
// libtorch 1.13 against its python3-torch: 0 (bit for bit; the test prints it).
// A wrong update is far outside: a first-order step where diffusers takes the
// second-order one is 3e-3 to 0.12 of the scale on this data (measured).
constexpr double kStepTolerance = 1e-6;

// The largest difference between two float32 tables, in units of the last
// place (ulp) of the expected value at that element.
double max_ulps(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor w = want.to(at::kFloat);
  const at::Tensor ulp = (at::nextafter(w.abs(), at::full_like(w, INFINITY)) - w.abs()).to(at::kDouble);
  return ((got.to(at::kDouble) - w.to(at::kDouble)).abs() / ulp).max().item<double>();
}

// The tables are diffusers' float32 sqrt and log of the same float32
// alphas_cumprod: equal bit for bit on libtorch 1.13 (the fixture's version).
// Another libtorch may vectorise sqrt/log differently (2.x calls Sleef's
// 1-ulp functions), which moves the last bit: within 2 ulps (the test prints
// the measured count). A float32 ulp is 6e-8 to 1.2e-7 relative: any error in
// the schedule or the formulas shows at orders of magnitude more.
TEST(DpmSolver, TablesMatchDiffusers) {
  DpmSolverPP2M solver(10);
  const std::pair<const char*, at::Tensor> tables[] = {
      {"alpha_t", solver.alpha_t()}, {"sigma_t", solver.sigma_t()}, {"lambda_t", solver.lambda_t()}};
  for (const auto& [name, got] : tables) {
    const at::Tensor& want = entry(std::string("table.") + name);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    const double ulps = max_ulps(got, want);
    std::cout << name << ": at most " << ulps << " ulp from diffusers\n";
    EXPECT_LE(ulps, 2.0) << name;
  }
}

TEST(DpmSolver, TimestepsMatchDiffusersExactly) {
  int checked = 0;
  for (const auto& [key, value] : fixture()) {
    if (key.rfind("timesteps.n", 0) != 0) continue;
    const int64_t n = std::stoll(key.substr(11));
    EXPECT_EQ(DpmSolverPP2M::linspace_timesteps(n, 1000), as_vector(value)) << n << " steps";
    EXPECT_EQ(DpmSolverPP2M(n).timesteps(), as_vector(value)) << n << " steps";
    ++checked;
  }
  EXPECT_GE(checked, 10);
  EXPECT_EQ(DpmSolverPP2M::linspace_timesteps(25, 1000).front(), 999);
  EXPECT_EQ(DpmSolverPP2M::linspace_timesteps(25, 1000).back(), 40);
  EXPECT_EQ(DpmSolverPP2M::linspace_timesteps(1000, 1000).size(), 999u) << "a duplicate dropped, as diffusers does";
  EXPECT_THROW(DpmSolverPP2M(0), Error);
  EXPECT_THROW(DpmSolverPP2M(1001), Error);
}

// Every recorded run: the same update order as diffusers took (first order on
// the first step and, under 15 steps, on the last), and every step's output
// fed back in as the next step's sample, from the recorded start.
TEST(DpmSolver, WholeRunsMatchDiffusers) {
  double worst = 0;
  for (int64_t n : {1, 2, 5, 14, 15, 25}) {
    const std::string run = "run" + std::to_string(n);
    DpmSolverPP2M solver(n);
    ASSERT_EQ(static_cast<int64_t>(solver.timesteps().size()), n);
    const std::vector<int64_t> orders = as_vector(entry(run + ".order"));
    ASSERT_EQ(static_cast<int64_t>(orders.size()), n) << run;
    at::Tensor sample = entry(run + ".sample0");
    for (int64_t i = 0; i < n; ++i) {
      const std::string at = run + " step " + std::to_string(i);
      EXPECT_EQ(solver.order(i), orders[i]) << at;
      sample = solver.step(i, entry(run + ".model_output" + std::to_string(i)), sample);
      const at::Tensor& expected = entry(run + ".sample" + std::to_string(i + 1));
      test::expect_close(sample, expected, kStepTolerance, at);
      worst = std::max(worst, test::relative_max_error(sample, expected));
    }
  }
  std::printf("DPM-Solver++ 2M against diffusers: worst step error %.3g of the tensor's scale\n", worst);
  // The lower-order final step: under 15 steps the last update is first
  // order, from 15 on it stays second order.
  EXPECT_EQ(DpmSolverPP2M(14).order(13), 1);
  EXPECT_EQ(DpmSolverPP2M(15).order(14), 2);
  EXPECT_EQ(DpmSolverPP2M(15).order(0), 1);
}

// The first-order update is DDIM between the same two timesteps (in lambda):
// a cross-check of the coefficients that does not read the fixture.
TEST(DpmSolver, FirstOrderStepIsDdim) {
  DpmSolverPP2M solver(2);  // 999 -> 500, both steps first order
  const NoiseSchedule schedule;
  at::Tensor x = at::randn({2, 4, 4, 4}), eps = at::randn({2, 4, 4, 4});
  const double a = schedule.alpha_cumprod(999), ap = schedule.alpha_cumprod(500);
  at::Tensor x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
  test::expect_close(solver.step(0, eps, x), std::sqrt(ap) * x0 + std::sqrt(1 - ap) * eps, 1e-5, "999 -> 500");
}

TEST(DpmSolver, StepsOutOfOrderAreRefused) {
  DpmSolverPP2M solver(3);
  at::Tensor x = at::zeros({1, 4, 2, 2});
  test::expect_error_containing([&] { solver.step(1, x, x); }, "out of order");
  solver.step(0, x, x);
  test::expect_error_containing([&] { solver.step(0, x, x); }, "out of order");
}

TEST(DpmSolver, SamplersByName) {
  EXPECT_EQ(sampler_names().front(), kDefaultSampler);
  EXPECT_EQ(make_sampler("dpmpp-2m", 25)->timesteps(), DpmSolverPP2M(25).timesteps());
  // "ddim" is the DDIM scheduler step for step, bit for bit.
  std::unique_ptr<Sampler> ddim = make_sampler("ddim", 3);
  DdimScheduler reference;
  ASSERT_EQ(ddim->timesteps(), reference.timesteps(3));
  at::Tensor x = at::randn({1, 4, 4, 4}), eps = at::randn({1, 4, 4, 4});
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(at::equal(ddim->step(i, eps, x), reference.step(eps, reference.timesteps(3)[i], x, 3)));
  test::expect_error_containing([] { make_sampler("euler", 10); }, "scheduler must be one of ddim, dpmpp-2m, got 'euler'");
  test::expect_error_containing([] { check_sampler_name(""); }, "scheduler must be one of");
}

// The pipeline drives the solver of its run: on the tiny models, every step's
// tapped output is DpmSolverPP2M's step on that step's tapped input and guided
// prediction (bit for bit), each step starts from the one before, and
// AnimationParams' default is DDIM.
TEST(DpmSolver, ThePipelineStepsWithIt) {
  EXPECT_EQ(AnimationParams{}.scheduler, kDefaultSampler);
  EngineOptions options;
  options.threads = 1;
  Animator animator(resolve_model_paths(test::models_dir()), options);
  at::manual_seed(5);
  at::Tensor source = at::randint(0, 256, {32, 32, 3}, at::TensorOptions().dtype(at::kByte));
  at::Tensor control = at::randint(0, 256, {16, 32, 32, 3}, at::TensorOptions().dtype(at::kByte));
  AnimationParams p;
  p.width = p.height = 32;
  p.steps = 3;
  p.scheduler = "dpmpp-2m";
  TensorMap taps;
  std::vector<int64_t> progress_steps;
  animator.animate(
      source, control, p, [&](const ProgressEvent& e) { progress_steps.push_back(e.steps); }, nullptr,
      [&](const std::string& name, const at::Tensor& value) { taps[name] = value.clone(); });
  for (int64_t steps : progress_steps) EXPECT_EQ(steps, 3);
  // The taps are [1, C, F, h, w]; the solver is elementwise, so the layout does not matter.
  DpmSolverPP2M solver(3);
  for (size_t i = 0; i < 3; ++i) {
    const std::string step = "step" + std::to_string(i);
    ASSERT_TRUE(taps.count(step + ".latents_out")) << step;
    if (i > 0) {
      EXPECT_TRUE(at::equal(taps[step + ".latents_in"], taps["step" + std::to_string(i - 1) + ".latents_out"]));
    }
    EXPECT_TRUE(at::equal(solver.step(i, taps[step + ".noise_pred_guided"], taps[step + ".latents_in"]),
                          taps[step + ".latents_out"]))
        << step;
  }
}

}  // namespace
}  // namespace ma
