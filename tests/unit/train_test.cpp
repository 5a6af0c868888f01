// The trainer's parts on the tiny fixture models and tiny generated data:
// joint sampler, dataset checks, optimiser state, torch pickle writer,
// checkpoints (atomic, resumable, loadable) and what one step changes.
#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::AutoGradMode (not via ATen.h on 2.x)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "data/dataset.h"
#include "data/joint_sampler.h"
#include "weights/model_info.h"
#include "weights/model_paths.h"
#include "weights/safetensors.h"
#include "weights/torch_pickle_write.h"
#include "media/video.h"
#include "weights/weights.h"
#include "nn/reference_bank.h"
#include "pipeline/model_check.h"
#include "models/load.h"
#include "pipeline/model_loading.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"
#include "tests/train_data.h"
#include "train/checkpoint.h"
#include "train/ema.h"
#include "train/objective.h"
#include "train/optimizer.h"
#include "train/trainer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

using test::TempDir;

// ---- joint sampler -----------------------------------------------------------

TEST(JointSampler, BranchFrequenciesMatchTau) {
  // 20000 draws: a frequency's standard deviation is <= 0.0036; 0.02 is > 5 of them.
  const int n = 20000;
  const std::vector<int64_t> lengths{30, 5, 17};
  data::SamplerOptions s1;
  s1.stage = 1;
  s1.tau0 = 0.3;
  s1.ref_drop = 0.25;
  std::map<data::SampleKind, int> count1;
  int dropped = 0;
  for (int i = 0; i < n; ++i) {
    auto rng = data::sample_stream(11, i, 0);
    const auto p = data::draw_sample(s1, lengths, rng);
    ++count1[p.kind];
    dropped += p.ref_dropped;
    ASSERT_EQ(p.frames.size(), 1u);
    if (p.kind == data::SampleKind::kImage) {
      EXPECT_NE(p.frames[0], p.ref);
    }
    if (p.kind == data::SampleKind::kRef) {
      EXPECT_EQ(p.frames[0], p.ref);
    }
  }
  EXPECT_NEAR(count1[data::SampleKind::kRef] / double(n), 0.3, 0.02);
  EXPECT_NEAR(count1[data::SampleKind::kImage] / double(n), 0.7, 0.02);
  EXPECT_NEAR(dropped / double(n), 0.25, 0.02);

  data::SamplerOptions s2;
  s2.stage = 2;
  s2.frames = 4;
  s2.tau1 = 0.2;
  s2.tau2 = 0.5;
  std::map<data::SampleKind, int> count2;
  for (int i = 0; i < n; ++i) {
    auto rng = data::sample_stream(12, i, 1);
    const auto p = data::draw_sample(s2, lengths, rng);
    ++count2[p.kind];
    if (p.kind == data::SampleKind::kVideo) {
      ASSERT_EQ(p.frames.size(), 4u);
      for (size_t k = 1; k < p.frames.size(); ++k) EXPECT_EQ(p.frames[k], p.frames[k - 1] + 1);
      EXPECT_LT(p.frames.back(), lengths[p.clip]);
    }
  }
  EXPECT_NEAR(count2[data::SampleKind::kRef] / double(n), 0.2, 0.02);
  EXPECT_NEAR(count2[data::SampleKind::kImage] / double(n), 0.3, 0.02);
  EXPECT_NEAR(count2[data::SampleKind::kVideo] / double(n), 0.5, 0.02);
}

TEST(JointSampler, DeterministicPerStepAndSlot) {
  data::SamplerOptions s;
  s.stage = 2;
  const std::vector<int64_t> lengths{40, 40};
  auto draw = [&](int64_t step, int64_t slot) {
    auto rng = data::sample_stream(5, step, slot);
    return data::draw_sample(s, lengths, rng);
  };
  const auto a = draw(3, 0), b = draw(3, 0), c = draw(3, 1);
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.ref, b.ref);
  EXPECT_EQ(a.crop.x, b.crop.x);
  EXPECT_FALSE(a.frames == c.frames && a.ref == c.ref && a.crop.x == c.crop.x);
}

TEST(JointSampler, RejectsBadTaus) {
  data::SamplerOptions s;
  s.tau1 = 0.6, s.tau2 = 0.5;
  EXPECT_THROW(data::validate(s), Error);
  s = {};
  s.ref_drop = 1.5;
  EXPECT_THROW(data::validate(s), Error);
}

// ---- dataset -------------------------------------------------------------------

TEST(Dataset, FramesPosesAndReferenceShareOneCrop) {
  TempDir dir;
  test::make_tiktok_clip(dir.path(), "a", 6, 96, 64, 1, /*same=*/true);  // poses = copies of the images
  const auto ds = data::Dataset::scan(dir.path());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds.clip(0).length, 6);
  data::SamplerOptions s;
  s.stage = 2;
  s.frames = 3;
  s.tau1 = 0.5, s.tau2 = 0.5;  // half reference images, half clips
  for (int i = 0; i < 8; ++i) {
    auto rng = data::sample_stream(3, i, 0);
    const auto plan = data::draw_sample(s, {6}, rng);
    const auto f = ds.load(0, plan.frames, 32, 48, plan.crop);
    const auto r = ds.load(0, {plan.ref}, 32, 48, plan.crop);
    ASSERT_EQ(f.images.sizes(), (std::vector<int64_t>{static_cast<int64_t>(plan.frames.size()), 48, 32, 3}));
    EXPECT_TRUE(f.images.equal(f.poses)) << "frames and poses were cropped differently";
    if (plan.kind == data::SampleKind::kRef) {
      EXPECT_TRUE(r.images.equal(f.images)) << "reference crop differs";
    }
  }
  // A crop is the resize of the same window for every frame source.
  const at::Tensor frame = test::make_frame(0, 96, 64, 1, false);
  const data::Crop centre;
  const at::Tensor c = data::crop_and_resize(frame, 64, 64, centre);
  EXPECT_TRUE(c.equal(frame.slice(1, 16, 80).contiguous()));  // 64x64 window, centred, no resize needed
}

std::string scan_error(const std::string& root) {
  try {
    data::Dataset::scan(root);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Dataset, BadClipsAreNamed) {
  {
    TempDir dir;
    test::make_tiktok_clip(dir.path(), "good", 3, 32, 32, 1);
    test::make_tiktok_clip(dir.path(), "nopose", 3, 32, 32, 2);
    fs::remove_all(dir / "nopose/densepose");
    const std::string e = scan_error(dir.path());
    EXPECT_NE(e.find("nopose"), std::string::npos) << e;
    EXPECT_NE(e.find("no pose video"), std::string::npos) << e;
    // --skip-bad keeps the good one and warns once.
    std::vector<std::string> warnings;
    data::ScanOptions o;
    o.skip_bad = true;
    o.warn = [&](const std::string& w) { warnings.push_back(w); };
    const auto ds = data::Dataset::scan(dir.path(), o);
    EXPECT_EQ(ds.size(), 1u);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("nopose"), std::string::npos);
  }
  {
    TempDir dir;
    test::make_tiktok_clip(dir.path(), "short", 3, 32, 32, 1);
    fs::remove(dir / "short/densepose/0002.png");
    const std::string e = scan_error(dir.path());
    EXPECT_NE(e.find("short"), std::string::npos) << e;
    EXPECT_NE(e.find("0002.png"), std::string::npos) << e;
  }
  {
    TempDir dir;
    test::make_tiktok_clip(dir.path(), "broken", 3, 32, 32, 1);
    std::ofstream(dir / "broken/images/0001.png") << "not a png";
    const std::string e = scan_error(dir.path());
    EXPECT_NE(e.find("0001.png"), std::string::npos) << e;
  }
  {
    TempDir dir;
    fs::create_directories(dir / "empty/images");
    fs::create_directories(dir / "empty/densepose");
    const std::string e = scan_error(dir.path());
    EXPECT_NE(e.find("empty"), std::string::npos) << e;
  }
  {
    TempDir dir;  // videos/ + densepose/ layout with a missing partner
    test::make_tiktok_clip(dir.path(), "tmp", 3, 32, 32, 1);
    fs::create_directories(dir / "videos");
    fs::create_directories(dir / "densepose");
    fs::rename(dir / "tmp/images", dir / "videos/clip1");
    const std::string e = scan_error(dir.path());
    EXPECT_NE(e.find("clip1"), std::string::npos) << e;
    fs::rename(dir / "tmp/densepose", dir / "densepose/clip1");
    EXPECT_EQ(scan_error(dir.path()), "");
  }
}

// ---- optimiser ----------------------------------------------------------------------

TEST(Optimizer, WarmupThenConstant) {
  at::Tensor w = at::ones({3}).requires_grad_(true);
  train::OptimizerOptions o;
  o.lr = 1e-3;
  o.warmup = 4;
  train::Optimizer opt({{"w", w}}, o);
  EXPECT_DOUBLE_EQ(opt.lr_at(0), 0.25e-3);
  EXPECT_DOUBLE_EQ(opt.lr_at(3), 1e-3);
  EXPECT_DOUBLE_EQ(opt.lr_at(100), 1e-3);
}

TEST(Optimizer, CosineFallsFromLrToZeroAtTheLastStep) {
  at::Tensor w = at::ones({3}).requires_grad_(true);
  train::OptimizerOptions o;
  o.lr = 1e-3;
  o.warmup = 10;
  o.cosine = true;
  o.total_steps = 110;
  train::Optimizer opt({{"w", w}}, o);
  EXPECT_DOUBLE_EQ(opt.lr_at(4), 0.5e-3);                 // still warming up
  EXPECT_DOUBLE_EQ(opt.lr_at(10), 1e-3);                  // s = 0
  EXPECT_NEAR(opt.lr_at(60), 0.5e-3, 1e-15);              // s = 1/2: cos = 0
  EXPECT_NEAR(opt.lr_at(35), 1e-3 * (1 + std::cos(M_PI / 4)) / 2, 1e-15);
  EXPECT_NEAR(opt.lr_at(110), 0, 1e-15);                  // the end
  EXPECT_NEAR(opt.lr_at(500), 0, 1e-15);                  // and past it (a longer resumed run re-plans)
}

TEST(Ema, AveragesWithEmaModelsWarmup) {
  at::Tensor w = at::zeros({2});
  train::Ema ema({{"part.w", w}}, 0.5);
  EXPECT_DOUBLE_EQ(ema.decay_at(0), 0.1);       // (1 + 0) / (10 + 0)
  EXPECT_DOUBLE_EQ(ema.decay_at(100), 0.5);     // capped by the decay
  EXPECT_THROW(train::Ema({{"part.w", w}}, 1.0), Error);
  double expected = 0;
  for (int64_t step = 0; step < 30; ++step) {
    w.fill_(static_cast<double>(step + 1));  // the weights as the optimiser left them
    ema.update(step);
    const double d = std::min(0.5, (1.0 + step) / (10.0 + step));
    expected = d * expected + (1 - d) * static_cast<double>(step + 1);
  }
  const TensorMap avg = ema.averaged();
  ASSERT_EQ(avg.count("part.w"), 1u);
  EXPECT_NEAR(avg.at("part.w")[1].item<double>(), expected, 1e-4 * expected);
  EXPECT_TRUE(w.equal(at::full({2}, 30.0)));  // the live weights are left alone
}

TEST(Optimizer, ClipsByGlobalNormAndRestoresState) {
  auto make = [] { return at::arange(4, at::kFloat).requires_grad_(true); };
  at::Tensor a = make(), b = make();
  train::OptimizerOptions o;
  o.lr = 0.1;
  o.clip_grad = 1.0;
  train::Optimizer oa({{"p", a}}, o), ob({{"p", b}}, o);
  auto grad = [](at::Tensor& p, double s) { (p * p * s).sum().backward(); };
  grad(a, 3.0);
  EXPECT_NEAR(oa.grad_norm(), 3.0 * 2 * std::sqrt(14.0), 1e-4);
  oa.step(0);
  // b gets a's state, then both take the same next step: identical results.
  {
    at::NoGradGuard g;
    b.copy_(a);
  }
  ob.load_state(oa.state());
  grad(a, 1.0);
  grad(b, 1.0);
  oa.step(1);
  ob.step(1);
  EXPECT_TRUE(a.equal(b));
  EXPECT_THROW(ob.load_state({}), Error);
}

// ---- torch pickle writer --------------------------------------------------------------

TEST(TorchPickleWrite, ReadsBackThroughTheLoader) {
  TempDir dir;
  TensorMap t{{"down_blocks.0.motion_modules.0.w", at::randn({3, 4})},
              {"up_blocks.1.motion_modules.2.pe", at::randn({1, 24, 8}).slice(1, 0, 5)},
              {"count", at::arange(7, at::kLong)}};
  const std::string path = dir / "temporal_attention.ckpt";
  save_torch_state_dict(path, t);
  const TensorMap back = load_weights_as_stored(path);  // unwraps "state_dict"
  ASSERT_EQ(back.size(), t.size());
  for (const auto& [k, v] : t) {
    ASSERT_TRUE(back.count(k)) << k;
    EXPECT_TRUE(back.at(k).equal(v.contiguous())) << k;
  }
  EXPECT_FALSE(fs::exists(dir / "temporal_attention.ckpt.partial"));
}

// The Python check: Debian's python3-torch loads the archive as the
// original's loader does. Skipped where python3-torch is not installed.
TEST(TorchPickleWrite, PythonTorchLoadsIt) {
  std::string python;
  for (const char* py : {"/usr/bin/python3", "python3"})
    if (python.empty() && std::system((std::string(py) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) python = py;
  if (python.empty()) GTEST_SKIP() << "python3-torch not installed";
  TempDir dir;
  TensorMap t{{"down_blocks.0.motion_modules.0.temporal_transformer.proj_out.weight", at::arange(6, at::kFloat).view({2, 3})}};
  save_torch_state_dict(dir / "m.ckpt", t);
  const std::string script =
      "import torch,sys; d=torch.load(sys.argv[1], map_location='cpu'); sd=d['state_dict']; "
      "mm={k:v for k,v in sd.items() if 'motion_modules' in k}; "
      "w=mm['down_blocks.0.motion_modules.0.temporal_transformer.proj_out.weight']; "
      "assert w.dtype==torch.float32 and w.shape==(2,3) and w.flatten().tolist()==[0,1,2,3,4,5]; print('ok')";
  const std::string cmd = python + " -c \"" + script + "\" " + (dir / "m.ckpt") + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// ---- gradients through the engine's modules ----------------------------------------

// f = <w, UNet3D(z, t, text, ControlNet residuals, reference bank of the
// appearance encoder)> in float64; autograd's derivative for a few entries of
// a parameter in each part (ControlNet, appearance encoder through the
// reference attention, motion module, UNet block) against central
// differences. h = 1e-5 keeps the truncation error (~h^2) and the rounding
// error (~1e-16 / h) both far below the 1e-6 relative tolerance.
TEST(Gradients, MatchFiniteDifferencesInFloat64) {
  const DeviceDtype f64{at::kDouble, at::kCPU};
  const ModelPaths paths = resolve_model_paths(test::models_dir());
  auto unet = load_unet3d(paths, f64);
  auto app = load_appearance_encoder(paths, f64);
  auto ctl = load_controlnet(paths, f64);
  at::manual_seed(0);
  const auto d = at::TensorOptions().dtype(at::kDouble);
  const int64_t frames = 2;
  const at::Tensor z = at::randn({frames, 4, 8, 8}, d), ref = at::randn({1, 4, 8, 8}, d);
  const at::Tensor text = at::randn({1, 77, 32}, d) * 0.5, pose = at::rand({frames, 3, 64, 64}, d);
  const at::Tensor w = at::randn({frames, 4, 8, 8}, d);
  auto f = [&]() {
    nn::ReferenceBank bank;
    bank.fp16_handoff = false;  // the original's fp16 rounding is piecewise constant: no derivative to check
    bank.start_write();
    app->forward(ref, 400.0, text, 1, nullptr, &bank);
    bank.start_read();
    ControlResiduals res = ctl->forward(z, 400.0, text, pose);
    return (unet->forward(z, 400.0, text, frames, &res, &bank) * w).sum();
  };
  struct Probe {
    nn::Module* module;
    std::string name;
  };
  const std::vector<Probe> probes = {
      {ctl.get(), "controlnet_down_blocks.3.weight"},
      {ctl.get(), "controlnet_cond_embedding.conv_in.weight"},
      {app.get(), "up_blocks.1.attentions.0.transformer_blocks.0.norm1.weight"},
      {unet.get(), "up_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.to_q.weight"},
      {unet.get(), "mid_block.attentions.0.transformer_blocks.0.attn1.to_v.weight"},
  };
  for (const Probe& p : probes) {
    at::Tensor* slot = nullptr;
    for (const auto& info : p.module->parameters())
      if (info.name == p.name) slot = info.slot;
    ASSERT_NE(slot, nullptr) << p.name;
    *slot = slot->detach().clone().requires_grad_(true);
    f().backward();
    const at::Tensor grad = slot->grad().clone();
    *slot = slot->detach();
    at::NoGradGuard no_grad;
    for (int64_t k : {int64_t{0}, slot->numel() / 2, slot->numel() - 1}) {
      const double h = 1e-5;
      at::Tensor flat = slot->view({-1});
      const double v = flat[k].item<double>();
      flat[k] = v + h;
      const double up = f().item<double>();
      flat[k] = v - h;
      const double down = f().item<double>();
      flat[k] = v;
      const double fd = (up - down) / (2 * h), ad = grad.view({-1})[k].item<double>();
      EXPECT_NEAR(ad, fd, 1e-6 * std::max(1.0, std::abs(fd))) << p.name << "[" << k << "]";
    }
  }
}

// ---- one step against the original Python modules ------------------------------------

// tests/data/cases/train_step/stage{1,2}.safetensors: one step of the
// objective run by diffusers 0.21.4 + the original's modules on the tiny
// models (tests/data/gen/make_train_step_case.py). The same inputs through
// train::diffusion_loss must give the same loss and per-part gradient norms
// within 1e-5 relative (float32 sums in a different order differ by ~1e-7),
// and the probed gradient tensors within 1e-4 of their scale, 1e-3 for the
// appearance encoder's: its gradient passes the bank's fp16 hand-off (the
// original's .to(float16)), where float32 differences of 1e-7 between the two
// implementations can flip an fp16 rounding (a relative step of 2^-11).
double global_norm(const std::vector<at::Tensor>& params) {
  double sum = 0;
  for (const auto& p : params)
    if (p.grad().defined()) sum += p.grad().to(at::kDouble).pow(2).sum().item<double>();
  return std::sqrt(sum);
}

std::vector<at::Tensor> make_trainable(nn::Module& m, const char* containing = "") {
  std::vector<at::Tensor> out;
  for (const auto& p : m.parameters())
    if (p.name.find(containing) != std::string::npos) {
      *p.slot = p.slot->detach().clone().requires_grad_(true);
      out.push_back(*p.slot);
    }
  return out;
}

at::Tensor grad_of(nn::Module& m, const std::string& key) {
  for (const auto& p : m.parameters())
    if (p.name == key) return p.slot->grad();
  throw std::runtime_error("no parameter " + key);
}

// Stage 1's networks on the tiny models: appearance encoder, ControlNet and the 2D base UNet.
struct Stage1Models {
  std::unique_ptr<UNetModel> app, unet;
  std::unique_ptr<ControlNetModel> ctl;
};
Stage1Models stage1_models() {
  const ModelPaths paths = resolve_model_paths(test::models_dir());
  Stage1Models m;
  m.app = load_appearance_encoder(paths, {});
  m.ctl = load_controlnet(paths, {});
  m.unet = std::make_unique<UNetModel>(UNetConfig::load(paths.unet_config), UNetKind::kImage);
  load_module_file(*m.unet, paths.unet_weights, {});
  return m;
}

TEST(TrainStepParity, Stage1MatchesTheOriginal) {
  const TensorMap c = load_safetensors(test::data_dir() + "/cases/train_step/stage1.safetensors");
  Stage1Models m = stage1_models();
  auto& app = m.app;
  auto& ctl = m.ctl;
  UNetModel& unet = *m.unet;
  const auto app_params = make_trainable(*app), ctl_params = make_trainable(*ctl);
  train::ObjectiveInputs in{c.at("in.z0"), c.at("in.ref_latents"), c.at("in.pose"), c.at("in.noise"), c.at("in.t"),
                            c.at("in.text"), false};
  const NoiseSchedule schedule;
  test::expect_close(schedule.add_noise(in.z0, in.noise, in.t), c.at("out.zt"), 1e-6, "z_t");
  at::Tensor loss = train::diffusion_loss({app.get(), ctl.get(), &unet, true, true}, schedule, in);
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), c.at("out.loss").item<double>(), 1e-5 * c.at("out.loss").item<double>());
  const double ga = c.at("out.grad_norm.appearance_encoder").item<double>();
  const double gc = c.at("out.grad_norm.controlnet").item<double>();
  EXPECT_NEAR(global_norm(app_params), ga, 1e-5 * ga);
  EXPECT_NEAR(global_norm(ctl_params), gc, 1e-5 * gc);
  for (const auto& [key, expected] : c) {
    if (key.rfind("out.grad.appearance_encoder.", 0) == 0)
      test::expect_close(grad_of(*app, key.substr(28)), expected, 1e-3, key);
    if (key.rfind("out.grad.controlnet.", 0) == 0) test::expect_close(grad_of(*ctl, key.substr(20)), expected, 1e-4, key);
  }
}

// --snr-gamma: a batch of two images (frames = 1) at a nearly clean and a
// nearly pure-noise timestep. Its loss is the mean of each image's own loss
// (run alone, plain MSE) times min(SNR, gamma) / SNR: about 0.05 and 1 here.
// Within 1e-5: the batched forward and the single ones sum in other orders.
TEST(Objective, MinSnrWeightsEachImageByItsTimestep) {
  const TensorMap c = load_safetensors(test::data_dir() + "/cases/train_step/stage1.safetensors");
  const Stage1Models m = stage1_models();
  const NoiseSchedule schedule;
  auto row = [](const at::Tensor& x) { return x.slice(0, 0, 1); };
  train::ObjectiveInputs both{at::cat({row(c.at("in.z0")), -row(c.at("in.z0"))}),
                              at::cat({c.at("in.ref_latents"), c.at("in.ref_latents")}),
                              at::cat({row(c.at("in.pose")), row(c.at("in.pose")).flip(3)}),
                              at::cat({row(c.at("in.noise")), row(c.at("in.noise")).flip(2)}),
                              at::tensor(std::vector<int64_t>{10, 900}), c.at("in.text"), false, 1};
  const train::ObjectiveModels models{m.app.get(), m.ctl.get(), m.unet.get(), false, false};
  at::NoGradGuard no_grad;
  const double gamma = 5;
  double expected = 0;
  for (int64_t i = 0; i < 2; ++i) {
    train::ObjectiveInputs one = both;
    for (at::Tensor* t : {&one.z0, &one.ref_latents, &one.pose, &one.noise, &one.t}) *t = t->slice(0, i, i + 1);
    const double a = schedule.alpha_cumprod(both.t[i].item<int64_t>()), snr = a / (1 - a);
    expected += std::min(snr, gamma) / snr * train::diffusion_loss(models, schedule, one).item<double>() / 2;
  }
  const double plain = train::diffusion_loss(models, schedule, both).item<double>();
  both.snr_gamma = gamma;
  const double weighted = train::diffusion_loss(models, schedule, both).item<double>();
  EXPECT_NEAR(weighted, expected, 1e-5 * expected);
  EXPECT_LT(weighted, 0.8 * plain) << "the nearly clean image must weigh less";
  both.snr_gamma = 1e12;  // above every SNR: every weight is 1
  EXPECT_NEAR(train::diffusion_loss(models, schedule, both).item<double>(), plain, 1e-6 * plain);
}

TEST(TrainStepParity, Stage2MatchesTheOriginal) {
  const TensorMap c = load_safetensors(test::data_dir() + "/cases/train_step/stage2.safetensors");
  const ModelPaths paths = resolve_model_paths(test::models_dir());
  auto app = load_appearance_encoder(paths, {});
  auto ctl = load_controlnet(paths, {});
  auto unet = load_unet3d(paths, {});
  const auto mm = make_trainable(*unet, "motion_modules.");
  train::ObjectiveInputs in{c.at("in.z0"), c.at("in.ref_latents"), c.at("in.pose"), c.at("in.noise"), c.at("in.t"),
                            c.at("in.text"), false};
  at::Tensor loss = train::diffusion_loss({app.get(), ctl.get(), unet.get(), false, false}, NoiseSchedule(), in);
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), c.at("out.loss").item<double>(), 1e-5 * c.at("out.loss").item<double>());
  const double g = c.at("out.grad_norm.motion_modules").item<double>();
  EXPECT_NEAR(global_norm(mm), g, 1e-5 * g);
  for (const auto& [key, expected] : c)
    if (key.rfind("out.grad.motion_modules.", 0) == 0)
      test::expect_close(grad_of(*unet, key.substr(24)), expected, 1e-4, key);
  // Frozen parts built no graph: none of their parameters has a gradient.
  for (const auto& p : app->parameters()) EXPECT_FALSE(p.slot->grad().defined()) << p.name;
}

// ---- the trainer on the tiny models ---------------------------------------------------

train::TrainOptions tiny(const std::string& data, const std::string& out, int stage) {
  train::TrainOptions o;
  o.sampler.stage = stage;
  o.models = test::models_dir();
  o.data = data;
  o.out = out;
  o.width = o.height = 64;  // the tiny UNet's smallest size (8x8 latents)
  o.sampler.frames = 3;
  o.steps = 2;
  o.save_every = 0;
  o.optim.lr = 1e-3;
  o.seed = 7;
  o.threads = 1;  // bit-exact comparisons need one thread count; one is also fastest on a busy machine
  return o;
}

std::map<std::string, at::Tensor> snapshot(const std::vector<train::NamedParameter>& params) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : params) out[p.name] = p.tensor.detach().clone();
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

void expect_only_changed(const std::map<std::string, at::Tensor>& before, const train::Trainer& t,
                         const std::function<bool(const std::string&)>& trained) {
  int changed = 0, trainable = 0;
  for (const auto& p : t.all_parameters()) {
    const bool same = before.at(p.name).equal(p.tensor.detach());
    if (trained(p.name)) {
      ++trainable;
      changed += !same;
    } else {
      EXPECT_TRUE(same) << p.name << " is frozen but changed";
    }
  }
  EXPECT_GT(trainable, 0);
  // AdamW moves every parameter that got a gradient; a few (e.g. blocks the
  // bank never reaches) may get none, but most must move.
  EXPECT_GT(changed, trainable / 2) << changed << " of " << trainable << " trainable tensors changed";
}

TEST(Trainer, Stage1TrainsExactlyAppearanceEncoderAndControlNet) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 1);
  auto o = tiny(data.path(), out.path(), 1);
  o.sampler.ref_drop = 0;
  train::Trainer t(o);
  std::set<std::string> expected, held;
  for (const auto& p : t.all_parameters())
    if (starts_with(p.name, "appearance_encoder.") || starts_with(p.name, "controlnet.")) expected.insert(p.name);
  for (const auto& p : t.trainable_parameters()) held.insert(p.name);
  EXPECT_EQ(held, expected) << "the optimiser must hold exactly the trainable parameters";
  const auto before = snapshot(t.all_parameters());
  t.train_step();
  t.train_step();
  expect_only_changed(before, t, [](const std::string& n) {
    return starts_with(n, "appearance_encoder.") || starts_with(n, "controlnet.");
  });
}

TEST(Trainer, Stage2TrainsOnlyMotionModules) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 5, 64, 64, 2);
  auto o = tiny(data.path(), out.path(), 2);
  o.sampler.tau1 = o.sampler.tau2 = 0;  // clips only
  train::Trainer t(o);
  for (const auto& p : t.trainable_parameters())
    EXPECT_NE(p.name.find(".motion_modules."), std::string::npos) << p.name;
  const auto before = snapshot(t.all_parameters());
  const auto r = t.train_step();
  EXPECT_EQ(r.kind, "video");
  expect_only_changed(before, t, [](const std::string& n) { return n.find(".motion_modules.") != std::string::npos; });
}

TEST(Trainer, DroppedReferenceGivesTheAppearanceEncoderNoGradient) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 3);
  auto o = tiny(data.path(), out.path(), 1);
  o.sampler.ref_drop = 1;
  train::Trainer t(o);
  const auto before = snapshot(t.all_parameters());
  EXPECT_EQ(t.train_step().kind, "ref-dropped");
  for (const auto& p : t.all_parameters()) {
    if (starts_with(p.name, "appearance_encoder.")) {
      EXPECT_TRUE(before.at(p.name).equal(p.tensor.detach())) << p.name << " moved without a gradient";
    }
  }
  bool controlnet_moved = false;
  for (const auto& p : t.all_parameters())
    if (starts_with(p.name, "controlnet.")) controlnet_moved |= !before.at(p.name).equal(p.tensor.detach());
  EXPECT_TRUE(controlnet_moved);
}

std::vector<std::string> journal(const std::string& out) {
  std::vector<std::string> lines;
  std::ifstream in(fs::path(out) / "train.jsonl");
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l);
    j.erase("seconds");  // wall time is the only field allowed to differ
    lines.push_back(j.dump());
  }
  return lines;
}

// Trains `o` into `out` as two runs: to step `first`, then resumed to o.steps.
void train_resumed(train::TrainOptions o, const std::string& out, int64_t first) {
  const int64_t total = o.steps;
  o.out = out;
  o.steps = first;
  {
    train::Trainer t(o);
    t.run();
  }
  o.steps = total;
  o.resume = "latest";
  o.seed = 999;  // ignored: a resumed run keeps the checkpoint's seed
  train::Trainer t(o);
  EXPECT_EQ(t.step(), first);
  t.run();
}

// Every weight file under checkpoint folder `a` (parts, motion modules, the
// optimiser and trainer state) equals its twin under `b` bit for bit; returns
// how many files were compared.
int expect_same_weight_files(const fs::path& a, const fs::path& b, const std::string& what) {
  int compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    if (e.is_symlink() || (e.path().extension() != ".safetensors" && e.path().extension() != ".ckpt")) continue;
    const auto rel = fs::relative(e.path(), a);
    const TensorMap x = load_weights_as_stored(e.path().string()), y = load_weights_as_stored((b / rel).string());
    EXPECT_EQ(x.size(), y.size()) << rel;
    for (const auto& [k, v] : x) EXPECT_TRUE(y.count(k) && v.equal(y.at(k))) << rel << " " << k << " " << what;
    ++compared;
  }
  return compared;
}

TEST(Trainer, ResumeEqualsStraightRun) {
  for (int stage : {1, 2}) {
    TempDir data, straight, split;
    test::make_tiktok_clip(data.path(), "a", 5, 64, 64, 4);
    test::make_tiktok_clip(data.path(), "b", 4, 64, 64, 5);
    auto o = tiny(data.path(), straight.path(), stage);
    o.steps = 4;
    o.sampler.ref_drop = 0.3;
    {
      train::Trainer t(o);
      t.run();
    }
    train_resumed(o, split.path(), 2);
    EXPECT_EQ(journal(straight.path()), journal(split.path())) << "stage " << stage;
    EXPECT_GE(expect_same_weight_files(fs::path(straight.path()) / "checkpoint-4", fs::path(split.path()) / "checkpoint-4",
                                       "stage " + std::to_string(stage)),
              2);
  }
}

// --ema-decay: the checkpoint's parts hold the average of the weights after
// every step (recomputed here from snapshots), trainer_state/ the raw weights,
// and a run resumed from it ends bit for bit where a straight run does. Stage 1
// trains UNet, appearance encoder and ControlNet; stage 2 the motion modules:
// every part an average is published into.
TEST(Trainer, EmaPublishesTheAverageAndResumesExactly) {
  for (int stage : {1, 2}) {
    TempDir data, straight, split;
    test::make_tiktok_clip(data.path(), "a", 5, 64, 64, 4);
    auto o = tiny(data.path(), straight.path(), stage);
    o.steps = 3;
    o.ema_decay = 0.9;
    if (stage == 1) o.trainable = {"unet", "appearance_encoder", "controlnet"};
    std::map<std::string, at::Tensor> average, raw;
    {
      train::Trainer t(o);
      average = snapshot(t.trainable_parameters());
      for (int64_t step = 0; step < o.steps; ++step) {
        t.train_step();
        const double d = std::min(0.9, (1.0 + step) / (10.0 + step));
        for (const auto& p : t.trainable_parameters())
          average[p.name] = d * average[p.name] + (1 - d) * p.tensor.detach();
      }
      raw = snapshot(t.trainable_parameters());
      t.save();
    }
    const fs::path ckpt = fs::path(straight.path()) / "checkpoint-3";
    const ModelPaths paths = resolve_model_paths(ckpt.string());
    const std::map<std::string, std::string> files = {{"appearance_encoder", paths.appearance_encoder_weights},
                                                      {"controlnet", paths.controlnet_weights},
                                                      {"unet", paths.unet_weights},
                                                      {"motion_modules", paths.motion_module}};
    std::map<std::string, TensorMap> published;
    int differ = 0;
    for (const auto& [name, expected] : average) {
      const size_t dot = name.find('.');
      const std::string part = name.substr(0, dot);
      if (!published.count(part)) published[part] = load_weights_as_stored(files.at(part));
      const at::Tensor got = published[part].at(name.substr(dot + 1));
      // Float rounding only: lerp_ and the formula above order the operations differently.
      EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-6)) << name << " stage " << stage;
      differ += !at::allclose(got, raw[name], 1e-5, 1e-6);
    }
    EXPECT_GT(differ, static_cast<int>(average.size()) / 2) << "the average must not be the raw weights";
    const TensorMap kept = load_weights_as_stored((ckpt / "trainer_state/weights.safetensors").string());
    ASSERT_EQ(kept.size(), raw.size());
    for (const auto& [name, w] : raw) EXPECT_TRUE(kept.at(name).equal(w)) << name;

    train_resumed(o, split.path(), 1);
    // The parts, the raw weights and the optimiser.
    EXPECT_GE(expect_same_weight_files(ckpt, fs::path(split.path()) / "checkpoint-3", "stage " + std::to_string(stage)),
              stage == 1 ? 5 : 3);
  }
}

TEST(Trainer, CheckpointIsAModelsFolder) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 5, 64, 64, 6);
  auto o = tiny(data.path(), out.path(), 2);
  o.steps = 1;
  {
    train::Trainer t(o);
    t.run();
  }
  const fs::path ckpt = fs::path(out.path()) / "checkpoint-1";
  EXPECT_TRUE(fs::is_symlink(out / "latest"));
  EXPECT_EQ(fs::read_symlink(out / "latest"), "checkpoint-1");
  EXPECT_TRUE(fs::is_symlink(ckpt / "stable-diffusion-v1-5"));  // untouched: referenced, not copied
  EXPECT_TRUE(fs::is_symlink(ckpt / "MagicAnimate/appearance_encoder"));
  EXPECT_FALSE(fs::is_symlink(ckpt / "MagicAnimate/temporal_attention/temporal_attention.ckpt"));
  EXPECT_TRUE(fs::exists(out / "train.jsonl"));
  EXPECT_TRUE(fs::exists(out / "loss.svg"));
  // It records the size it was trained at, animate's default for it.
  const auto native = read_native_size(ckpt.string());
  ASSERT_TRUE(native.has_value());
  EXPECT_EQ(native->width, 64);
  EXPECT_EQ(native->height, 64);
  // The release's checks pass on it and it has the trained motion modules.
  const ModelPaths paths = resolve_model_paths(ckpt.string());
  for (const PartCheck& part : check_model_parts(paths))
    EXPECT_TRUE(part.problems.empty()) << part.part << ": " << (part.problems.empty() ? "" : part.problems[0]);
  const TensorMap mm = load_weights(paths.motion_module);
  const TensorMap src = load_weights(test::models_dir() + "/MagicAnimate/temporal_attention/temporal_attention.ckpt");
  ASSERT_EQ(mm.size(), src.size());
  int differ = 0;
  for (const auto& [k, v] : src) differ += !v.equal(mm.at(k));
  EXPECT_GT(differ, 0);
}

TEST(Trainer, CrashWhileSavingKeepsThePreviousCheckpoint) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 7);
  auto o = tiny(data.path(), out.path(), 1);
  int files = 0;
  bool armed = false;
  train::TrainCallbacks cb;
  cb.on_checkpoint_file = [&](const std::string& f) {
    if (armed && ++files == 2) throw std::runtime_error("simulated crash while writing " + f);
  };
  train::Trainer t(o, cb);
  t.train_step();
  t.save();
  const TensorMap first = load_safetensors(out / "checkpoint-1/MagicAnimate/densepose_controlnet/diffusion_pytorch_model.safetensors");
  t.train_step();
  armed = true;
  EXPECT_THROW(t.save(), std::runtime_error);
  EXPECT_FALSE(fs::exists(out / "checkpoint-2"));
  EXPECT_FALSE(fs::exists(out / ".checkpoint-2.partial"));
  EXPECT_EQ(fs::read_symlink(out / "latest"), "checkpoint-1");
  const TensorMap again = load_safetensors(out / "checkpoint-1/MagicAnimate/densepose_controlnet/diffusion_pytorch_model.safetensors");
  for (const auto& [k, v] : first) EXPECT_TRUE(v.equal(again.at(k))) << k;
  EXPECT_NO_THROW(train::resolve_resume(out.path(), "latest"));
}

TEST(Trainer, ValidationAnimatesTheHeldOutClip) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 9);
  test::make_tiktok_clip(data.path(), "z_held_out", 3, 64, 64, 10);
  auto o = tiny(data.path(), out.path(), 2);
  o.steps = 1;
  o.validate_every = 1;
  train::Trainer t(o);
  t.run();
  const std::string video = out / "validation/step-1.mp4";
  ASSERT_TRUE(fs::exists(video));
  const DecodedVideo v = read_video(video);
  EXPECT_EQ(v.frames.size(0), 3);                 // one per pose frame of the held-out clip
  EXPECT_EQ(v.frames.size(2), 3 * (64 + 2) + 2);  // source | pose | result
  o.validate_every = 1;
  TempDir one;
  test::make_tiktok_clip(one.path(), "only", 3, 64, 64, 11);
  o.data = one.path();
  o.out = out / "other";
  EXPECT_THROW(train::Trainer bad(o), Error);  // nothing to hold out
}

TEST(Trainer, KeepPrunesOldCheckpoints) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 8);
  auto o = tiny(data.path(), out.path(), 1);
  o.steps = 3;
  o.save_every = 1;
  o.keep = 2;
  train::Trainer t(o);
  t.run();
  EXPECT_FALSE(fs::exists(out / "checkpoint-1"));
  EXPECT_TRUE(fs::exists(out / "checkpoint-2"));
  EXPECT_TRUE(fs::exists(out / "checkpoint-3"));
}

}  // namespace
}  // namespace ma
