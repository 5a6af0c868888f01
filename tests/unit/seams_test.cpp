// The seams training needs in the inference code (issue 11): per-sample
// timesteps, guidance halves only when asked, buffers apart from parameters
// with freezing by name, models usable by autograd, the noise schedule, the
// VAE posterior, the window loop over any subset of windows, and the library's
// weight init / released configs. All on the tiny models of tests/data.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not via ATen.h on 2.x)
#include <c10/core/InferenceMode.h>

#include <cmath>

#include "diffusion/noise_schedule.h"
#include "util/config.h"
#include "weights/model_paths.h"
#include "weights/weights.h"
#include "models/sd15_configs.h"
#include "nn/init.h"
#include "pipeline/context_windows.h"
#include "diffusion/ddim.h"
#include "pipeline/denoise_windows.h"
#include "pipeline/model_loading.h"
#include "tests/test_util.h"
#include "util/error.h"

namespace ma {
namespace {

// The tiny models loaded *outside* InferenceMode (the trainer's way); tests
// that only run inference wrap themselves in a NoGradGuard.
EngineModels& models() {
  static EngineModels m = load_models(resolve_model_paths(test::models_dir()), {}, /*for_inference=*/false);
  return m;
}

int64_t cross_dim() { return models().unet->config().cross_attention_dim; }

at::Tensor randn(at::IntArrayRef shape, uint64_t seed) {
  at::Generator g = at::detail::createCPUGenerator(seed);
  return at::randn(shape, g, at::TensorOptions().dtype(at::kFloat));
}

// A bank written by the appearance encoder for one reference latent.
void write_bank(nn::ReferenceBank& bank, double t, const at::Tensor& text_cond) {
  bank.start_write();
  models().appearance_encoder->forward(randn({1, 4, 8, 8}, 99), t, text_cond, 1, nullptr, &bank);
  bank.start_read();
}

// Same-number comparisons of a batch against single calls: the batched
// convolutions / matmuls may sum in another order, and through the whole
// video UNet float32 rounding piles up: measured up to 1.07e-5 of the scale on
// libtorch 2.6 (below 1e-5 on 1.13). 5e-5 is 4.7x that and stays 20x
// below the timestep's effect (> 1e-3, checked below).
constexpr double kBatchTol = 5e-5;

// --- per-sample timesteps ---------------------------------------------------

TEST(Seams, VideoUNetBatchOfTwoTimestepsEqualsTwoSingleCalls) {
  at::NoGradGuard no_grad;
  const UNetModel& unet = *models().unet;
  const int64_t frames = 4;
  at::Tensor x = randn({2 * frames, 4, 8, 8}, 1), text = randn({2, 77, cross_dim()}, 2);
  at::Tensor t = at::tensor({10.0f, 700.0f});
  at::Tensor batched = unet.forward(x, t, text, frames);
  at::Tensor a = unet.forward(x.slice(0, 0, frames), 10.0, text.slice(0, 0, 1), frames);
  at::Tensor b = unet.forward(x.slice(0, frames), 700.0, text.slice(0, 1), frames);
  test::expect_close(batched, at::cat({a, b}), kBatchTol, "batch [10, 700] vs single calls");
  // The second video's timestep matters (so the comparison above can fail).
  at::Tensor same = unet.forward(x, at::tensor({10.0f, 10.0f}), text, frames);
  EXPECT_GT(test::relative_max_error(same.slice(0, frames), b), 1e-3);
  // A scalar tensor is the double path, bit for bit.
  EXPECT_TRUE(at::equal(unet.forward(x, at::scalar_tensor(10.0), text, frames), unet.forward(x, 10.0, text, frames)));
  EXPECT_THROW(unet.forward(x, at::tensor({1.0f, 2.0f, 3.0f}), text, frames), Error);
}

TEST(Seams, ControlNetBatchOfTwoTimestepsEqualsTwoSingleCalls) {
  at::NoGradGuard no_grad;
  const ControlNetModel& net = *models().controlnet;
  at::Tensor x = randn({2, 4, 8, 8}, 3), text = randn({2, 77, cross_dim()}, 4);
  at::Tensor cond = randn({2, 3, 64, 64}, 5).abs().clamp_max(1);
  ControlResiduals batched = net.forward(x, at::tensor({5.0f, 900.0f}), text, cond);
  ControlResiduals a = net.forward(x.slice(0, 0, 1), 5.0, text.slice(0, 0, 1), cond.slice(0, 0, 1));
  ControlResiduals b = net.forward(x.slice(0, 1), 900.0, text.slice(0, 1), cond.slice(0, 1));
  test::expect_close(batched.mid, at::cat({a.mid, b.mid}), kBatchTol, "mid residual");
  ASSERT_EQ(batched.down.size(), a.down.size());
  for (size_t i = 0; i < a.down.size(); ++i)
    test::expect_close(batched.down[i], at::cat({a.down[i], b.down[i]}), kBatchTol, "down residual " + std::to_string(i));
}

// --- guidance halves only when asked ----------------------------------------

TEST(Seams, BatchOfTwoByDefaultIsTwoVideosThatBothReadTheBank) {
  at::NoGradGuard no_grad;
  const UNetModel& unet = *models().unet;
  const int64_t frames = 4;
  at::Tensor x = randn({2 * frames, 4, 8, 8}, 6), text = randn({2, 77, cross_dim()}, 7);
  nn::ReferenceBank bank;
  write_bank(bank, 300, text.slice(0, 1));
  at::Tensor both = unet.forward(x, 300.0, text, frames, nullptr, &bank);
  at::Tensor a = unet.forward(x.slice(0, 0, frames), 300.0, text.slice(0, 0, 1), frames, nullptr, &bank);
  at::Tensor b = unet.forward(x.slice(0, frames), 300.0, text.slice(0, 1), frames, nullptr, &bank);
  test::expect_close(both, at::cat({a, b}), kBatchTol, "default batch of 2 vs single calls with the bank");
  // Asked for guidance halves, the first video reads no bank: different.
  at::Tensor halves = unet.forward(x, 300.0, text, frames, nullptr, &bank, /*cfg_halves=*/true);
  EXPECT_GT(test::relative_max_error(halves.slice(0, 0, frames), a), 1e-3);
  test::expect_close(halves.slice(0, frames), b, kBatchTol, "conditional half");
}

// --- buffers, trainable parameters, freezing by prefix ----------------------

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(Seams, PositionEncodingsAreBuffersNotParameters) {
  UNetModel unet(UNetConfig::from_json(sd15_unet_config(), "sd15"), UNetKind::kVideo);
  size_t pe = 0;
  for (const auto& p : unet.parameters()) EXPECT_FALSE(ends_with(p.name, ".pe")) << p.name;
  for (const auto& b : unet.buffers()) {
    EXPECT_TRUE(ends_with(b.name, "pos_encoder.pe")) << b.name;
    EXPECT_TRUE(b.buffer);
    ++pe;
  }
  EXPECT_GT(pe, 0u);
  EXPECT_EQ(unet.state_entries().size(), unet.parameters().size() + pe);
  const auto clip = models().text_encoder->buffers();
  ASSERT_EQ(clip.size(), 1u);
  EXPECT_EQ(clip[0].name, "text_model.embeddings.position_ids");
}

TEST(Seams, FreezeByPrefixFlipsExactlyTheMatchingParameters) {
  UNetModel& unet = *models().unet;
  EXPECT_TRUE(unet.trainable_parameters().empty()) << "loaded weights start frozen";
  const std::string prefix = "down_blocks.0.motion_modules.";
  size_t expected = 0;
  for (const auto& p : unet.parameters()) expected += p.name.rfind(prefix, 0) == 0;
  ASSERT_GT(expected, 0u);
  EXPECT_EQ(nn::set_requires_grad(unet, {prefix}, true), expected);
  auto trainable = unet.trainable_parameters();
  EXPECT_EQ(trainable.size(), expected);
  for (const auto& p : trainable) EXPECT_EQ(p.name.rfind(prefix, 0), 0u) << p.name;
  for (const auto& b : unet.buffers()) EXPECT_FALSE(b.slot->requires_grad()) << b.name;
  // AnimateDiff's trainable_modules ("motion_modules." anywhere in the name).
  size_t motion = 0;
  for (const auto& p : unet.parameters()) motion += p.name.find("motion_modules.") != std::string::npos;
  EXPECT_EQ(nn::set_requires_grad(unet, {"motion_modules."}, true, /*match_anywhere=*/true), motion);
  EXPECT_EQ(unet.trainable_parameters().size(), motion);
  EXPECT_GT(motion, expected);
  nn::set_requires_grad(unet, {""}, false);
  EXPECT_TRUE(unet.trainable_parameters().empty());
}

TEST(Seams, BuffersLoadFromCheckpointsAsBefore) {
  const ModelPaths paths = resolve_model_paths(test::models_dir());
  // The motion modules' file holds pe: the 3D UNet loads it and reports a
  // missing or extra one by name.
  UNetModel unet(UNetConfig::load(paths.unet_config), UNetKind::kVideo);
  TensorMap state = load_weights(paths.unet_weights);
  for (auto& kv : load_weights(paths.motion_module)) state.insert(kv);
  EXPECT_TRUE(nn::load_state_dict(unet, state).ok());
  const std::string pe = unet.buffers().at(0).name;
  TensorMap without = state;
  without.erase(pe);
  nn::LoadReport r = nn::load_state_dict(unet, without);
  ASSERT_EQ(r.missing.size(), 1u);
  EXPECT_EQ(r.missing[0], pe);
  TensorMap extra = state;
  extra["down_blocks.0.motion_modules.0.pe"] = at::zeros({1});
  r = nn::load_state_dict(unet, extra);
  ASSERT_EQ(r.unexpected.size(), 1u);
  EXPECT_EQ(r.unexpected[0], "down_blocks.0.motion_modules.0.pe");
  // CLIP: with or without position_ids in the file.
  TensorMap clip = load_weights(paths.text_encoder_weights);
  const std::string key = "text_model.embeddings.position_ids";
  clip[key] = at::arange(77, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
  ClipTextModel text(paths.text_encoder_config);
  EXPECT_NO_THROW(text.load(clip));
  clip.erase(key);
  EXPECT_NO_THROW(text.load(clip));
}

// --- autograd through models loaded outside InferenceMode -------------------

TEST(Seams, UNetBackwardGivesAGradientToAnUnfrozenParameter) {
  EngineModels& m = models();
  UNetModel& unet = *m.unet;
  ASSERT_EQ(nn::set_requires_grad(unet, {"conv_in.weight"}, true), 1u);
  nn::ReferenceBank bank;
  at::Tensor text = randn({1, 77, cross_dim()}, 8);
  {
    at::NoGradGuard frozen;  // the appearance encoder is frozen
    write_bank(bank, 400, text);
  }
  at::Tensor pred = unet.forward(randn({4, 4, 8, 8}, 9), at::tensor({400.0f}), text, 4, nullptr, &bank);
  pred.pow(2).mean().backward();
  const at::Tensor grad = unet.conv_in->weight.grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(unet.conv_out->weight.grad().defined()) << "frozen parameters get no gradient";
  nn::set_requires_grad(unet, {""}, false);
  unet.conv_in->weight.mutable_grad() = at::Tensor();

  // Loaded for inference, the weights are inference tensors autograd refuses.
  EngineModels inference = load_models(resolve_model_paths(test::models_dir()), {}, /*for_inference=*/true);
  EXPECT_ANY_THROW(nn::set_requires_grad(*inference.unet, {"conv_in.weight"}, true));
}

// --- the noise schedule ------------------------------------------------------

TEST(Seams, AddNoiseAndVelocityMatchTheClosedForm) {
  NoiseSchedule schedule;  // the release: linear 0.00085 -> 0.012, 1000 steps
  // prod(1 - beta_s) in double from the linear betas; float32 cumprod keeps
  // about 1e-6 relative over 1000 factors.
  auto alpha_bar = [](int64_t t, bool scaled) {
    double prod = 1;
    for (int64_t s = 0; s <= t; ++s) {
      const double f = static_cast<double>(s) / 999.0;
      const double beta = scaled ? std::pow(std::sqrt(0.00085) + f * (std::sqrt(0.012) - std::sqrt(0.00085)), 2)
                                 : 0.00085 + f * (0.012 - 0.00085);
      prod *= 1 - beta;
    }
    return prod;
  };
  ASSERT_EQ(schedule.alphas_cumprod().size(0), 1000);
  for (int64_t t : {0, 1, 500, 999}) EXPECT_NEAR(schedule.alpha_cumprod(t), alpha_bar(t, false), 1e-6 * alpha_bar(t, false)) << t;
  NoiseSchedule scaled(NoiseScheduleConfig{1000, 0.00085, 0.012, true});
  for (int64_t t : {0, 500, 999}) EXPECT_NEAR(scaled.alpha_cumprod(t), alpha_bar(t, true), 1e-6) << t;

  at::Tensor x0 = randn({2, 4, 3, 8, 8}, 10), noise = randn({2, 4, 3, 8, 8}, 11);
  at::Tensor t = at::tensor({3, 999}, at::TensorOptions().dtype(at::kLong));
  at::Tensor noisy = schedule.add_noise(x0, noise, t), v = schedule.velocity(x0, noise, t);
  for (int64_t i = 0; i < 2; ++i) {
    const double a = alpha_bar(t[i].item<int64_t>(), false);
    at::Tensor expect_noisy = std::sqrt(a) * x0[i] + std::sqrt(1 - a) * noise[i];
    at::Tensor expect_v = std::sqrt(a) * noise[i] - std::sqrt(1 - a) * x0[i];
    test::expect_close(noisy[i], expect_noisy, 1e-5, "add_noise sample " + std::to_string(i));
    test::expect_close(v[i], expect_v, 1e-5, "velocity sample " + std::to_string(i));
  }
  EXPECT_THROW(schedule.add_noise(x0, noise, at::tensor({1000, 0})), Error);
  EXPECT_THROW(schedule.add_noise(x0, noise, at::tensor({1, 2, 3})), Error);
}

TEST(Seams, DdimReadsTheSharedSchedule) {
  DdimScheduler ddim;
  EXPECT_EQ(ddim.timesteps(3), (std::vector<int64_t>{667, 334, 1}));
  EXPECT_TRUE(at::equal(ddim.schedule().alphas_cumprod(), NoiseSchedule().alphas_cumprod()));
  // One step from t = 334 to 1 against the closed form on the schedule.
  at::Tensor x = randn({2, 4, 8, 8}, 12), eps = randn({2, 4, 8, 8}, 13);
  const double a = NoiseSchedule().alpha_cumprod(334), ap = NoiseSchedule().alpha_cumprod(1);
  at::Tensor x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
  test::expect_close(ddim.step(eps, 334, x, 3), std::sqrt(ap) * x0 + std::sqrt(1 - ap) * eps, 1e-6, "DDIM step");
}

// --- the VAE posterior -------------------------------------------------------

TEST(Seams, VaePosteriorSampleHasItsMeanAndStd) {
  at::NoGradGuard no_grad;
  const AutoencoderKL& vae = *models().vae;
  at::Tensor image = randn({4, 3, 64, 64}, 14).tanh();  // float in [-1, 1]
  VaePosterior post = vae.encode(image);
  EXPECT_TRUE(at::equal(post.mean, vae.encode_mean(image)));
  at::Generator g1 = at::detail::createCPUGenerator(21), g2 = at::detail::createCPUGenerator(21);
  at::Tensor z = post.sample(g1);
  EXPECT_TRUE(at::equal(z, post.mean + post.stddev() * randn(post.mean.sizes(), 21))) << "mean + std * N(0, 1) from the generator";
  EXPECT_TRUE(at::equal(post.sample(g2), z)) << "a fixed generator gives a fixed sample";
  // The standardised sample is N(0, 1): over N values its mean is within
  // 5/sqrt(N) of 0 and its std within 5/sqrt(2N) of 1 (5 sigma).
  at::Tensor s = ((z - post.mean) / post.stddev()).to(at::kDouble);
  const double n = static_cast<double>(s.numel());
  EXPECT_NEAR(s.mean().item<double>(), 0.0, 5 / std::sqrt(n));
  EXPECT_NEAR(s.std().item<double>(), 1.0, 5 / std::sqrt(2 * n));
  // The u8 reference path is this encode of image / 127.5 - 1.
  at::Tensor u8 = ((image[0] + 1) * 127.5).clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous();
  at::Tensor from_float = vae.encode_mean((u8.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat) / 127.5 - 1));
  test::expect_close(vae.encode_reference(u8), from_float * kMagicAnimateLatentScale, 1e-6, "encode_reference");
}

// --- the window loop over a subset of windows ---------------------------------

TEST(Seams, WindowSubsetsSumToTheWholeStep) {
  at::NoGradGuard no_grad;
  EngineModels& m = models();
  const int64_t frames = 12, context = 4;
  const std::vector<Window> windows = uniform_windows(frames, context, 1);  // each frame in at most 2 windows
  ASSERT_EQ(windows.size(), 4u);
  at::Tensor text_cond = randn({1, 77, cross_dim()}, 15), text_uncond = randn({1, 77, cross_dim()}, 16);
  nn::ReferenceBank bank;
  write_bank(bank, 500, text_cond);
  DenoiseInputs in;
  in.unet = m.unet.get();
  in.controlnet = m.controlnet.get();
  in.latents = randn({frames, 4, 8, 8}, 17);
  in.cond_images = randn({frames, 3, 64, 64}, 18).abs().clamp_max(1);
  in.text_cond = text_cond;
  in.text = at::cat({text_uncond, text_cond});
  in.timestep = 500;
  in.block = context;
  in.bank = &bank;
  size_t calls = 0;
  WindowSums all = denoise_windows(in, windows, [&](size_t) { ++calls; });
  EXPECT_EQ(calls, windows.size());
  WindowSums even = denoise_windows(in, {windows[0], windows[2]});
  WindowSums odd = denoise_windows(in, {windows[1], windows[3]});
  EXPECT_FALSE(at::equal(even.sum_cond, all.sum_cond)) << "a share alone is not the whole";
  even.add(odd);
  // Bit-exact: every frame's sum has at most two terms, and a + b == b + a.
  EXPECT_TRUE(at::equal(even.sum_uncond, all.sum_uncond));
  EXPECT_TRUE(at::equal(even.sum_cond, all.sum_cond));
  EXPECT_TRUE(at::equal(even.count, all.count));
  EXPECT_TRUE(at::equal(all.count.min(), at::ones({}, all.count.options())));
}

// --- init and released configs in the library --------------------------------

TEST(Seams, ReleasedConfigsBuildTheManifestTrees) {
  auto manifest = [](const std::string& name) {
    Json j = read_json_file(test::data_dir() + "/manifests/" + name + ".json");
    std::map<std::string, std::vector<int64_t>> out;
    for (auto& [key, v] : j["keys"].items()) out[key] = v["shape"].get<std::vector<int64_t>>();
    return out;
  };
  AutoencoderKL vae(AutoencoderKLConfig::from_json(sd15_vae_config()));
  nn::LoadReport r = nn::compare_shapes(vae, manifest("vae"));
  EXPECT_TRUE(r.ok()) << r.describe("vae");
  ClipTextModel text(ClipTextConfig::from_json(sd15_text_encoder_config()));
  r = nn::compare_shapes(text, manifest("text_encoder"));
  EXPECT_TRUE(r.ok()) << r.describe("text_encoder");
  ControlNetModel controlnet(UNetConfig::from_json(sd15_controlnet_config(), "controlnet"));
  r = nn::compare_shapes(controlnet, manifest("densepose_controlnet"));
  EXPECT_TRUE(r.ok()) << r.describe("densepose_controlnet");
}

TEST(Seams, LibraryInitFillsEveryEntryDeterministically) {
  UNetModel a(UNetConfig::load(resolve_model_paths(test::models_dir()).unet_config), UNetKind::kVideo);
  UNetModel b(UNetConfig::load(resolve_model_paths(test::models_dir()).unet_config), UNetKind::kVideo);
  nn::randomize(a, {}, 5);
  nn::randomize(b, {}, 5);
  for (const auto& p : a.state_entries()) ASSERT_TRUE(p.slot->defined()) << p.name;
  auto pa = a.state_entries(), pb = b.state_entries();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(*pa[i].slot, *pb[i].slot)) << pa[i].name;
  nn::randomize(b, {}, 6);
  EXPECT_FALSE(at::equal(*pa[0].slot, *b.state_entries()[0].slot)) << "another seed, other values";
}

}  // namespace
}  // namespace ma
