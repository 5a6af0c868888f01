// Training a model from nothing (what scripts/train-demo.sh does, on the tiny
// fixture configs): the VAE stage with its latent calibration, a base UNet
// that starts fresh, stage-1 samples trained in batches, and `convert`.
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not via ATen.h on 2.x)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "models/autoencoder_kl.h"
#include "pipeline/model_check.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"
#include "tests/train_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "train/vae_objective.h"
#include "util/error.h"
#include "weights/convert_models.h"
#include "weights/model_paths.h"
#include "weights/weights.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

using test::TempDir;

// A copy of the tiny models with the weight files of `parts` (folders under
// the models root) removed: those keep only their config.json.
void copy_models_without_weights(const std::string& to, const std::vector<std::string>& parts) {
  fs::copy(test::models_dir(), to, fs::copy_options::recursive);
  for (const auto& part : parts)
    for (const auto& e : fs::directory_iterator(fs::path(to) / part))
      if (e.path().filename() != "config.json") fs::remove(e.path());
}

train::TrainOptions options(const std::string& models, const std::string& data, const std::string& out) {
  train::TrainOptions o;
  o.models = models;
  o.data = data;
  o.out = out;
  o.width = o.height = 64;
  o.steps = 2;
  o.save_every = 0;
  o.optim.lr = 1e-3;
  o.seed = 11;
  o.threads = 1;  // bit-exact comparisons need one thread count
  return o;
}

at::Tensor frames_in_vae_range(const std::string& data) {
  std::vector<at::Tensor> frames;
  for (int64_t i = 0; i < 3; ++i) frames.push_back(test::make_frame(i, 64, 64, 21, false));
  return (at::stack(frames).permute({0, 3, 1, 2}).to(at::kFloat) / 127.5 - 1).contiguous();
}

// A fresh VAE learns (the loss falls), and the saved VAE is calibrated: its
// latents x 0.18215 have unit std on the calibration frames, while decoding
// gives the same pictures as the weights as trained.
TEST(VaeStage, FreshVaeLearnsAndIsSavedCalibrated) {
  TempDir models, data, out;
  copy_models_without_weights(models / "m", {"sd-vae-ft-mse"});
  test::make_tiktok_clip(data.path(), "a", 6, 64, 64, 21);
  test::make_tiktok_clip(data.path(), "b", 6, 64, 64, 22);
  auto o = options(models / "m", data.path(), out.path());
  o.vae = true;
  o.steps = 40;
  o.batch = 4;
  o.optim.lr = 2e-3;
  std::vector<double> losses;
  {
    train::TrainCallbacks cb;
    cb.step = [&](const train::StepReport& r) { losses.push_back(r.loss); };
    train::Trainer t(o, cb);
    for (const auto& p : t.trainable_parameters()) EXPECT_EQ(p.name.rfind("vae.", 0), 0u) << p.name;
    t.run();
  }
  ASSERT_EQ(losses.size(), 40u);
  const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[37] + losses[38] + losses[39]) / 3;
  std::cout << "VAE loss " << first << " -> " << last << "\n";
  // Measured 0.46 -> 0.12 (3.8x); asserted: at least 1.5x.
  EXPECT_LT(last, first / 1.5) << first << " -> " << last;

  const fs::path ckpt = fs::path(out.path()) / "checkpoint-40";
  ASSERT_TRUE(fs::is_regular_file(ckpt / "sd-vae-ft-mse" / "diffusion_pytorch_model.safetensors"));
  ASSERT_TRUE(fs::is_regular_file(ckpt / "trainer_state" / "weights.safetensors"));
  AutoencoderKL calibrated((ckpt / "sd-vae-ft-mse" / "config.json").string()), raw((ckpt / "sd-vae-ft-mse" / "config.json").string());
  calibrated.load((ckpt / "sd-vae-ft-mse" / "diffusion_pytorch_model.safetensors").string());
  raw.load(train::read_trained_weights(ckpt.string()));
  // The calibration frames are the first frame of each clip.
  std::vector<at::Tensor> firsts{test::make_frame(0, 64, 64, 21, false), test::make_frame(0, 64, 64, 22, false)};
  const at::Tensor calib = (at::stack(firsts).permute({0, 3, 1, 2}).to(at::kFloat) / 127.5 - 1).contiguous();
  at::NoGradGuard no_grad;
  const double std_after = calibrated.encode_mean(calib).std().item<double>() * kMagicAnimateLatentScale;
  EXPECT_NEAR(std_after, 1.0, 1e-3) << "latents x 0.18215 should have unit std";
  EXPECT_GT(std::abs(raw.encode_mean(calib).std().item<double>() * kMagicAnimateLatentScale - 1.0), 1e-2)
      << "the raw latents happened to be unit-scaled already: the test would not see a missing calibration";
  const at::Tensor x = frames_in_vae_range(data.path());
  const at::Tensor a = calibrated.decode(calibrated.encode_mean(x)), b = raw.decode(raw.encode_mean(x));
  // The same function up to float rounding of the rescaled weights.
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-4);
  // A models folder: the checks pass on the written VAE.
  for (const PartCheck& part : check_model_parts(resolve_model_paths(ckpt.string())))
    if (part.part == "vae") {
      EXPECT_TRUE(part.problems.empty()) << part.problems[0];
    }
}

TEST(VaeStage, ResumeEqualsStraightRun) {
  TempDir models, data, straight, split;
  copy_models_without_weights(models / "m", {"sd-vae-ft-mse"});
  test::make_tiktok_clip(data.path(), "a", 5, 64, 64, 23);
  auto o = options(models / "m", data.path(), straight.path());
  o.vae = true;
  o.steps = 4;
  o.batch = 2;
  train::Trainer(o).run();
  auto p = o;
  p.out = split.path();
  p.steps = 2;
  train::Trainer(p).run();
  p.steps = 4;
  p.resume = "latest";
  train::Trainer(p).run();
  for (const char* file : {"sd-vae-ft-mse/diffusion_pytorch_model.safetensors", "trainer_state/weights.safetensors",
                           "trainer_state/optimizer.safetensors"}) {
    const TensorMap x = load_weights_as_stored(straight / "checkpoint-4/" + file);
    const TensorMap y = load_weights_as_stored(split / "checkpoint-4/" + file);
    ASSERT_EQ(x.size(), y.size()) << file;
    for (const auto& [k, v] : x) EXPECT_TRUE(v.equal(y.at(k))) << file << " " << k;
  }
}

// A resumed run's sources are the checkpoint it resumed from; --keep may
// prune that checkpoint while the run goes on, and later saves must not need it.
TEST(Resume, SavesAfterTheCheckpointItCameFromIsPruned) {
  for (bool vae : {true, false}) {
    TempDir models, data, out;
    copy_models_without_weights(models / "m", {"sd-vae-ft-mse"});
    if (!vae) {  // stage 1 from a folder without motion modules: it writes fresh ones into each checkpoint
      copy_models_without_weights(models / "s1", {});
      fs::remove_all(fs::path(models / "s1") / "MagicAnimate" / "temporal_attention");
    }
    test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 29);
    auto o = options(vae ? models / "m" : models / "s1", data.path(), out.path());
    o.vae = vae;
    o.steps = 1;
    o.save_every = 1;
    o.keep = 1;
    train::Trainer(o).run();
    o.resume = "latest";
    o.steps = 3;  // saves 2 (pruning 1, the source of this run), then 3
    EXPECT_NO_THROW(train::Trainer(o).run()) << (vae ? "VAE stage" : "stage 1");
    EXPECT_TRUE(fs::is_directory(fs::path(out.path()) / "checkpoint-3"));
    EXPECT_FALSE(fs::exists(fs::path(out.path()) / "checkpoint-1"));
  }
}

TEST(VaeStage, RefusesOtherPartsAndStageOptions) {
  TempDir data, out;
  test::make_tiktok_clip(data.path(), "a", 3, 64, 64, 24);
  auto o = options(test::models_dir(), data.path(), out.path());
  o.vae = true;
  o.trainable = {"unet"};
  EXPECT_THROW(train::validate(o), Error);
  o.trainable = {};
  o.validate_every = 5;
  EXPECT_THROW(train::validate(o), Error);
  o.vae = false;
  o.validate_every = 0;
  o.trainable = {"vae"};
  EXPECT_THROW(train::validate(o), Error);
}

// A base UNet without weights starts fresh when it trains, and its absence is
// named when it does not.
TEST(FreshUNet, TrainsFromScratchOrIsNamedMissing) {
  TempDir models, data, out, out2;
  copy_models_without_weights(models / "m", {"stable-diffusion-v1-5/unet", "MagicAnimate/appearance_encoder",
                                            "MagicAnimate/densepose_controlnet"});
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 25);
  auto o = options(models / "m", data.path(), out.path());
  o.sampler.ref_drop = 0;
  try {
    train::Trainer t(o);
    ADD_FAILURE() << "a stage-1 run without UNet weights that does not train the UNet must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unet"), std::string::npos) << e.what();
  }
  o.trainable = {"unet", "appearance_encoder", "controlnet"};
  o.steps = 1;
  {
    train::Trainer t(o);
    t.run();
  }
  const fs::path ckpt = fs::path(out.path()) / "checkpoint-1";
  EXPECT_TRUE(fs::is_regular_file(ckpt / "stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors"));
  EXPECT_TRUE(fs::is_regular_file(ckpt / "MagicAnimate/appearance_encoder/diffusion_pytorch_model.safetensors"));
  const ModelPaths paths = resolve_model_paths(ckpt.string());
  for (const PartCheck& part : check_model_parts(paths))
    EXPECT_TRUE(part.problems.empty()) << part.part << ": " << (part.problems.empty() ? "" : part.problems[0]);
  // PyTorch's default init: conv weights within +-1/sqrt(fan_in), norm scales 1.
  const TensorMap unet = load_weights(paths.unet_weights);
  const at::Tensor conv = unet.at("conv_in.weight");  // [C, 4, 3, 3], fan_in 36 (before one AdamW step of 1e-3)
  EXPECT_LE(conv.abs().max().item<double>(), 1.0 / 6.0 + 2e-3);
  EXPECT_GT(conv.abs().max().item<double>(), 1.0 / 6.0 * 0.8);
}

// Stage 1 trains its single-frame samples as one batch; that is the same
// training as one sample at a time (each sample keeps its draws): --batch 4
// against --batch 1 --grad-accum 4 (the same four samples per step).
TEST(Stage1Batch, EqualsOneSampleAtATime) {
  TempDir data, a, b;
  test::make_tiktok_clip(data.path(), "a", 6, 64, 64, 26);
  test::make_tiktok_clip(data.path(), "b", 5, 64, 64, 27);
  auto o = options(test::models_dir(), data.path(), a.path());
  o.sampler.stage = 1;
  o.sampler.ref_drop = 0.4;  // both groups: samples with and without the reference
  o.optim.weight_decay = 0;
  o.optim.lr = 1e-4;
  o.steps = 1;
  o.batch = 4;
  auto p = o;
  p.out = b.path();
  p.batch = 1;
  p.grad_accum = 4;
  train::Trainer batched(o), single(p);
  std::map<std::string, at::Tensor> before;
  for (const auto& q : batched.trainable_parameters()) before[q.name] = q.tensor.detach().clone();
  const auto ra = batched.train_step(), rb = single.train_step();
  EXPECT_EQ(ra.kind, rb.kind);
  EXPECT_NE(ra.kind.find("ref-dropped"), std::string::npos) << "seed gives no dropped sample: " << ra.kind;
  // The loss: the same samples, float sums in another order (measured ~1e-7 relative).
  EXPECT_NEAR(ra.loss, rb.loss, 1e-5 * rb.loss);
  EXPECT_NEAR(ra.grad_norm, rb.grad_norm, 1e-4 * rb.grad_norm);
  // The update: Adam's first step is lr * g / |g| per element, so an element
  // whose gradient is ~0 may flip sign under rounding; compare the whole update.
  double diff = 0, size = 0;
  const auto& qa = batched.trainable_parameters();
  const auto& qb = single.trainable_parameters();
  ASSERT_EQ(qa.size(), qb.size());
  for (size_t i = 0; i < qa.size(); ++i) {
    const at::Tensor da = qa[i].tensor.detach() - before.at(qa[i].name), db = qb[i].tensor.detach() - before.at(qb[i].name);
    diff += (da - db).abs().sum().item<double>();
    size += db.abs().sum().item<double>();
  }
  std::cout << "batched vs one at a time: loss " << ra.loss << " / " << rb.loss << ", update differs by " << diff / size << "\n";
  // Measured 1.4e-4 of the update; asserted 1e-2.
  EXPECT_LT(diff, 1e-2 * size) << "batched and one-at-a-time updates differ by " << diff / size << " of the update";
}

// `convert`: a self-contained fp16 copy of a checkpoint that passes the checks
// and loads back to within fp16 rounding of the original.
TEST(ConvertModels, CheckpointToSelfContainedFp16Folder) {
  TempDir data, out, dst;
  test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 28);
  auto o = options(test::models_dir(), data.path(), out.path());
  o.steps = 1;
  train::Trainer(o).run();
  const std::string ckpt = out / "checkpoint-1", copy = dst / "fp16";
  const ConvertReport r = convert_models_folder(ckpt, copy, at::kHalf);
  EXPECT_GT(r.weight_files, 4);
  EXPECT_LT(r.bytes_out, r.bytes_in * 3 / 4);
  EXPECT_FALSE(fs::exists(fs::path(copy) / "trainer_state"));
  for (const auto& e : fs::recursive_directory_iterator(copy)) EXPECT_FALSE(e.is_symlink()) << e.path();
  const ModelPaths a = resolve_model_paths(ckpt), b = resolve_model_paths(copy);
  for (const PartCheck& part : check_model_parts(b))
    EXPECT_TRUE(part.problems.empty()) << part.part << ": " << (part.problems.empty() ? "" : part.problems[0]);
  for (const auto& [x, y] : {std::pair{a.unet_weights, b.unet_weights}, {a.motion_module, b.motion_module},
                             {a.controlnet_weights, b.controlnet_weights}}) {
    const TensorMap tx = load_weights(x), ty = load_weights_as_stored(y);
    ASSERT_EQ(tx.size(), ty.size()) << y;
    for (const auto& [k, v] : tx) {
      ASSERT_EQ(ty.at(k).scalar_type(), v.is_floating_point() ? at::kHalf : v.scalar_type()) << y << " " << k;
      // fp16 keeps 11 significant bits: relative rounding <= 2^-11.
      EXPECT_TRUE(at::allclose(ty.at(k).to(at::kFloat), v, 1e-3, 1e-6)) << y << " " << k;
    }
  }
  EXPECT_THROW(convert_models_folder(ckpt, copy, at::kHalf), Error) << "an existing OUT must be refused";
  EXPECT_THROW(convert_models_folder(dst / "missing", dst / "x", at::kHalf), Error);
}

}  // namespace
}  // namespace ma
