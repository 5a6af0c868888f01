#include "train/trainer.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::AutoGradMode (not via ATen.h on 2.x)
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "diffusion/noise_schedule.h"
#include "util/atomic_file.h"
#include "util/config.h"
#include "media/video.h"
#include "weights/weights.h"
#include "models/load.h"
#include "pipeline/animation.h"
#include "pipeline/model_loading.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/ema.h"
#include "train/init.h"
#include "train/loss_plot.h"
#include "train/objective.h"
#include "train/vae_objective.h"
#include "nn/init.h"
#include "util/dtype.h"
#include "util/error.h"
#include "util/threads.h"

namespace ma::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int64_t kLatentFactor = 8;
constexpr double kFreshVaeLogVariance = -8.0;  // a fresh VAE's initial posterior log-variance (load_models)

// uint8 [N, H, W, 3] -> the VAE's input [N, 3, H, W] in [-1, 1] (as encode_reference scales).
at::Tensor to_vae_input(const at::Tensor& u8, const at::TensorOptions& opt) {
  return (u8.permute({0, 3, 1, 2}).to(at::kFloat).to(opt) / 127.5 - 1).contiguous();
}
// uint8 [N, H, W, 3] -> the ControlNet's condition [N, 3, H, W] in [0, 1] (as inference).
at::Tensor to_condition(const at::Tensor& u8, const at::TensorOptions& opt) {
  return (u8.permute({0, 3, 1, 2}).to(at::kFloat).to(opt) / 255.0).contiguous();
}

// The torch generator of sample (step, slot): the same counter-based stream
// as the data order, so resuming needs no generator state.
at::Generator sample_generator(uint64_t seed, int64_t step, int64_t slot) {
  std::mt19937_64 stream = data::sample_stream(seed ^ 0x9e3779b97f4a7c15ull, step, slot);
  return at::detail::createCPUGenerator(stream());
}

// A part folder with its config and a weight file (what the resolver finds).
bool has_part_weights(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "config.json", ec) && !find_weight_file(dir.string()).empty();
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

const std::vector<std::string> kPartNames = {"appearance_encoder", "controlnet", "unet", "motion_modules", "vae"};

nlohmann::json stage_id(const TrainOptions& o) { return o.vae ? nlohmann::json("vae") : nlohmann::json(o.sampler.stage); }

std::vector<std::string> default_trainable(const TrainOptions& o) {
  if (o.vae) return {"vae"};
  if (o.sampler.stage == 1) return {"appearance_encoder", "controlnet"};
  return {"motion_modules"};
}

void validate(const TrainOptions& o) {
  data::validate(o.sampler);
  if (o.data.empty()) throw Error("--data is required");
  if (o.out.empty()) throw Error("--out is required");
  if (o.width <= 0 || o.height <= 0 || o.width % kLatentFactor || o.height % kLatentFactor)
    throw Error("size " + std::to_string(o.width) + "x" + std::to_string(o.height) + " must be positive multiples of 8");
  if (o.batch < 1) throw Error("--batch must be at least 1");
  if (o.grad_accum < 1) throw Error("--grad-accum must be at least 1");
  if (o.steps < 1) throw Error("--steps must be at least 1");
  if (o.save_every < 0) throw Error("--save-every must be >= 0");
  if (o.keep < 0) throw Error("--keep must be >= 0");
  if (o.validate_every < 0) throw Error("--validate-every must be >= 0");
  if (o.sampler.stage == 2 && o.sampler.frames > 24)
    throw Error("--frames " + std::to_string(o.sampler.frames) + ": the motion modules take at most 24 frames");
  for (const auto& part : o.trainable) {
    if (std::find(kPartNames.begin(), kPartNames.end(), part) == kPartNames.end())
      throw Error("--trainable: unknown part '" + part + "' (parts: " + join(kPartNames, ", ") + ")");
    if (part == "motion_modules" && o.sampler.stage == 1 && !o.vae)
      throw Error("--trainable motion_modules: stage 1 has no temporal layers (use --stage 2)");
    if ((part == "vae") != o.vae)
      throw Error(o.vae ? "--stage vae trains the VAE alone (--trainable " + part + " is for stages 1 and 2)"
                        : "--trainable vae: the VAE trains alone, with --stage vae");
  }
  if (o.vae && o.validate_every > 0) throw Error("--validate-every animates a clip: not with --stage vae");
  if (o.vae && !(o.kl_weight >= 0)) throw Error("--kl-weight must be >= 0");
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) throw Error("--ema-decay must be in [0, 1) (0: no average)");
  if (!(o.snr_gamma >= 0)) throw Error("--snr-gamma must be >= 0 (0: plain MSE)");
  if (o.vae && o.snr_gamma > 0) throw Error("--snr-gamma weights diffusion timesteps: not with --stage vae");
  if (o.vae && o.ema_decay > 0)
    throw Error("--ema-decay: not with --stage vae (its checkpoints publish the calibrated VAE as trained)");
}

struct Trainer::Impl {
  TrainOptions o;
  TrainCallbacks cb;
  DataParallel dp;  // this rank's place in a data-parallel run (one process: trivial)
  data::Dataset dataset;
  std::vector<int64_t> lengths;
  std::string models_dir;  // where the weights came from (the checkpoint on resume)
  ModelPaths paths;
  CheckpointSources sources;  // paths resolved through links, at the start (checkpoint.h)
  nlohmann::json appearance_config, controlnet_config, unet_config, vae_config;
  // Stage 1 keeps the 3D UNet's motion modules it does not train, to write
  // them into every checkpoint: read once, because the folder they came from
  // may be a checkpoint that --keep prunes while this run goes on (a resumed
  // run's sources are its checkpoint's files).
  std::optional<TensorMap> passed_motion_modules;
  std::set<std::string> trainable, written;  // parts trained / written at every save
  NoiseSchedule schedule;
  DeviceDtype weights;
  at::Tensor text;  // [1, 77, D]: the prompt's embedding, computed once
  std::unique_ptr<AutoencoderKL> vae;
  std::unique_ptr<UNetModel> appearance, unet;
  std::unique_ptr<ControlNetModel> controlnet;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<Ema> ema;  // --ema-decay: the average the checkpoints publish
  int64_t step = 0;
  std::vector<std::pair<int64_t, double>> history;  // (step, loss) for loss.svg
  std::vector<std::string> journal;                 // train.jsonl lines, rewritten on resume
  bool journal_synced = false;                      // train.jsonl rewritten by this process yet
  std::vector<std::string> weights_digest;          // every rank's, checked at the last save
  double latent_std = 0;                            // the VAE stage: at the last save
  at::Tensor calibration;                           // the VAE stage: calibration_images(), loaded at the first save
  bool app_from_unet = false, ctl_from_unet = false;  // those parts have no files of their own

  void info(const std::string& s) const {
    if (cb.info && dp.leader()) cb.info(s);
  }
  bool trains(const std::string& part) const { return trainable.count(part) > 0; }

  // ---- setup ---------------------------------------------------------------
  void resolve_models();
  void load_models();
  void select_trainable();
  void restore(const std::string& checkpoint);

  // ---- the objective ---------------------------------------------------------
  // What sample `slot` (global) of the current step is.
  // The step whose random draws a sample uses: this one, or always step 0
  // with repeat_first_sample (the overfitting test's fixed sample).
  int64_t draws() const { return o.repeat_first_sample ? 0 : step; }
  data::SamplePlan plan(int64_t slot) const {
    std::mt19937_64 stream = data::sample_stream(o.seed, draws(), slot);
    return data::draw_sample(o.sampler, lengths, stream);
  }
  double train_sample(const data::SamplePlan& s, at::Generator& gen, double weight);
  double train_images(const std::vector<data::SamplePlan>& s, std::vector<at::Generator>& gens, double weight);
  double train_vae(const std::vector<data::SamplePlan>& s, std::vector<at::Generator>& gens, double weight);
  double train_micro_batch(const std::vector<int64_t>& slots, double weight);
  at::Tensor calibration_images() const;

  void validate(const std::string& checkpoint) const;
  void append_journal(const StepReport& r);
  void check_samples_per_step(const nlohmann::json& state, const std::string& checkpoint) const;

  CheckpointContent checkpoint_content() const;
  nlohmann::json state_json() const;
};

// The models folder's parts, noting which ones must be initialised (paper §3):
// appearance encoder / ControlNet from the base UNet, motion modules fresh.
void Trainer::Impl::resolve_models() {
  const fs::path root(models_dir);
  ModelPathOverrides ov = o.resume.empty() ? o.parts : ModelPathOverrides{};
  ov.weights_optional = true;  // parts without weights start fresh if they train (load_models)
  const fs::path sd = ov.sd.empty() ? root / "stable-diffusion-v1-5" : fs::path(ov.sd);
  const fs::path app = ov.appearance_encoder.empty() ? root / "MagicAnimate" / "appearance_encoder" : fs::path(ov.appearance_encoder);
  const fs::path ctl = ov.controlnet.empty() ? root / "MagicAnimate" / "densepose_controlnet" : fs::path(ov.controlnet);
  const fs::path mm = ov.motion_module.empty() ? root / "MagicAnimate" / "temporal_attention" / "temporal_attention.ckpt"
                                               : fs::path(ov.motion_module);
  app_from_unet = !has_part_weights(app), ctl_from_unet = !has_part_weights(ctl);
  std::error_code ec;
  const bool have_mm = fs::is_regular_file(mm, ec);
  // The resolver insists on every part; point the missing ones somewhere that
  // exists and remember that they are to be initialised instead.
  if (app_from_unet) ov.appearance_encoder = (sd / "unet").string();
  if (ctl_from_unet) ov.controlnet = (sd / "unet").string();
  // No motion modules and no --motion-module: fresh ones (a named file that is
  // missing is the resolver's error, as for `animate`).
  const bool fresh_mm = !have_mm && ov.motion_module.empty();
  if (fresh_mm) ov.motion_module = (sd / "unet" / "config.json").string();
  paths = resolve_model_paths(models_dir, ov);
  unet_config = read_json_file(paths.unet_config);
  appearance_config = app_from_unet ? unet_config : read_json_file(paths.appearance_encoder_config);
  controlnet_config = ctl_from_unet ? controlnet_config_from_unet(unet_config) : read_json_file(paths.controlnet_config);
  if (fresh_mm) paths.motion_module.clear();
  if (o.vae) return;  // the VAE stage loads nothing else
  if (app_from_unet) info("appearance encoder: initialised from the base UNet (no " + app.string() + ")"), written.insert("appearance_encoder");
  if (ctl_from_unet) info("ControlNet: initialised from the base UNet (no " + ctl.string() + ")"), written.insert("controlnet");
  if (fresh_mm) {
    info("motion modules: fresh, output projections zero (no " + mm.string() + ")");
    written.insert("motion_modules");
  }
}

void Trainer::Impl::load_models() {
  weights = DeviceDtype{o.dtype, at::kCPU};
  if (o.vae) {  // --stage vae: the VAE alone, from its weights or (none there) from scratch
    vae_config = read_json_file(paths.vae_config);  // (kept: see passed_motion_modules)
    vae = std::make_unique<AutoencoderKL>(paths.vae_config);
    if (paths.vae_weights.empty()) {
      TensorMap fresh = nn::fresh_state(*vae, weights, o.seed);
      // The posterior starts narrow: log-variance -8 (std 0.02) instead of
      // the default init's ~0. At std ~1 the sampled noise is as large as the
      // latents themselves, and the weak KL term leaves the encoder to escape
      // that on its own, slowly (measured on the demo data: after 1000 steps
      // the latents' std was 0.95 against noise std 1, L1 stuck at 0.13).
      const int64_t c = vae->config().latent_channels;
      fresh.at("quant_conv.bias").slice(0, c, 2 * c).fill_(kFreshVaeLogVariance);
      vae->load(fresh, weights, "fresh VAE");
      info("VAE: fresh weights (no weight file in " + fs::path(paths.vae_config).parent_path().string() + "), " +
           std::to_string(vae->num_parameters()) + " parameters");
      written.insert("vae");
    } else {
      vae->load(paths.vae_weights, weights);
    }
    return;
  }
  // Weights every stage needs; a part that trains may start fresh instead.
  std::string missing;
  if (paths.text_encoder_weights.empty()) missing += " text encoder (" + fs::path(paths.text_encoder_config).parent_path().string() + ")";
  if (paths.vae_weights.empty()) missing += " VAE (" + fs::path(paths.vae_config).parent_path().string() + "; train one with --stage vae)";
  if (paths.unet_weights.empty() && !trains("unet"))
    missing += " unet (" + fs::path(paths.unet_config).parent_path().string() + "; or train it from scratch with --trainable unet,...)";
  if (!missing.empty()) throw Error("no weight file for:" + missing);
  {
    // The prompt ("" as the release) is encoded once; the text encoder is not kept.
    at::NoGradGuard frozen;
    auto tokenizer = load_tokenizer(paths);
    auto text_encoder = load_text_encoder(paths, weights);
    text = text_encoder->forward(tokenizer->tokenize(o.prompt)).detach();
  }
  vae = load_vae(paths, weights);
  const UNetConfig base = UNetConfig::from_json(unet_config, paths.unet_config);
  TensorMap unet_weights;
  const std::string unet_source = paths.unet_weights.empty() ? "fresh unet" : paths.unet_weights;  // for load errors
  if (paths.unet_weights.empty()) {
    // A base UNet trained from scratch (--trainable unet): PyTorch's default
    // initialisation; the appearance encoder and ControlNet copy it as usual.
    UNetModel fresh(base, UNetKind::kImage);
    unet_weights = nn::fresh_state(fresh, weights, o.seed);
    info("unet: fresh weights (no weight file in " + fs::path(paths.unet_config).parent_path().string() + "), " +
         std::to_string(fresh.num_parameters()) + " parameters");
    written.insert("unet");
  } else {
    unet_weights = load_weights(paths.unet_weights, weights);
  }

  appearance = std::make_unique<UNetModel>(UNetConfig::from_json(appearance_config, "appearance encoder"),
                                           UNetKind::kAppearanceEncoder);
  if (paths.appearance_encoder_weights == paths.unet_weights) {  // initialised from the base UNet
    nn::LoadOptions lo;
    lo.tensor = weights;
    lo.ignore_unexpected = true;  // the encoder stops at the last banked layer
    nn::require_ok(nn::load_state_dict(*appearance, unet_weights, lo), "appearance encoder from " + paths.unet_weights);
  } else {
    load_module_file(*appearance, paths.appearance_encoder_weights, weights);
  }

  controlnet = std::make_unique<ControlNetModel>(UNetConfig::from_json(controlnet_config, "controlnet"));
  if (paths.controlnet_weights == paths.unet_weights)
    init_controlnet_from_unet(*controlnet, unet_weights, weights, o.seed);
  else
    load_module_file(*controlnet, paths.controlnet_weights, weights);

  if (o.sampler.stage == 1) {
    if (!paths.motion_module.empty()) passed_motion_modules = load_weights(paths.motion_module, weights);
    unet = std::make_unique<UNetModel>(base, UNetKind::kImage);
    load_module(*unet, unet_weights, weights, unet_source);
  } else if (paths.motion_module.empty()) {
    unet = std::make_unique<UNetModel>(base, UNetKind::kVideo);
    nn::LoadOptions lo;
    lo.tensor = weights;
    lo.allow_missing = true;  // the motion modules, initialised next
    nn::require_ok(nn::load_state_dict(*unet, unet_weights, lo), unet_source);
    init_motion_modules(*unet, weights, o.seed);
  } else {
    unet = load_unet3d(paths, weights);
  }
  // --gradient-checkpointing: every block of the three trained networks
  // recomputes its activations in backward (models/block_checkpoint.h).
  appearance->gradient_checkpointing = controlnet->gradient_checkpointing = unet->gradient_checkpointing =
      o.gradient_checkpointing;
}

// Only the chosen parts get requires_grad (fresh copies, so no weight file's
// mapping is ever written to); the optimiser holds exactly those.
void Trainer::Impl::select_trainable() {
  std::vector<NamedParameter> params;
  auto take = [&](const std::string& part, nn::Module& m, bool motion_only, bool skip_motion) {
    for (const nn::ParamInfo& p : m.parameters()) {
      const bool motion = p.name.find("motion_modules.") != std::string::npos;
      if ((motion_only && !motion) || (skip_motion && motion)) continue;
      *p.slot = p.slot->detach().clone().requires_grad_(true);
      params.push_back({part + "." + p.name, *p.slot});
    }
  };
  if (trains("appearance_encoder")) take("appearance_encoder", *appearance, false, false);
  if (trains("controlnet")) take("controlnet", *controlnet, false, false);
  if (trains("unet")) take("unet", *unet, false, true);
  if (trains("motion_modules")) take("motion_modules", *unet, true, false);
  if (trains("vae")) take("vae", *vae, false, false);
  optimizer = std::make_unique<Optimizer>(std::move(params), o.optim);
  // The average starts at the loaded weights: fresh ones, or a resumed
  // checkpoint's published average (restore() then puts the raw ones back).
  if (o.ema_decay > 0) ema = std::make_unique<Ema>(optimizer->parameters(), o.ema_decay);
}

// One sample: its frames from the dataset, the frozen inputs (VAE latents,
// pose, noise, t) from the sample's own generator, then the objective
// (train/objective.cpp) backpropagated with `weight` (1 / samples per step).
double Trainer::Impl::train_sample(const data::SamplePlan& s, at::Generator& gen, double weight) {
  const auto opt = at::TensorOptions().dtype(o.dtype);
  const auto target = dataset.load(s.clip, s.frames, o.width, o.height, s.crop);
  const auto reference = dataset.load(s.clip, {s.ref}, o.width, o.height, s.crop);
  ObjectiveInputs in;
  {
    at::NoGradGuard frozen;
    in.z0 = vae->encode(to_vae_input(target.images, opt)).sample(gen) * kMagicAnimateLatentScale;  // [F, 4, h, w]
    in.ref_latents = vae->encode(to_vae_input(reference.images, opt)).mean * kMagicAnimateLatentScale;
    in.pose = to_condition(target.poses, opt);
    in.noise = at::randn(in.z0.sizes(), gen, at::TensorOptions().dtype(at::kFloat)).to(opt);
    in.t = at::randint(0, schedule.train_timesteps(), {1}, gen, at::TensorOptions().dtype(at::kLong));
  }
  in.text = text;
  in.ref_dropped = s.ref_dropped;
  in.snr_gamma = o.snr_gamma;
  const ObjectiveModels models{appearance.get(), controlnet.get(), unet.get(), trains("appearance_encoder"),
                               trains("controlnet")};
  at::Tensor loss = diffusion_loss(models, schedule, in);
  (loss * weight).backward();
  return loss.item<double>();
}

// Stage 1's single frames, several at once: each sample's draws come from its
// own generator in the order train_sample takes them (the posterior sample,
// the noise, t), so a batch trains exactly the samples one at a time would;
// only the forward passes are shared. Samples with and without the reference
// go in separate batches (the no-reference ones have no bank at all).
double Trainer::Impl::train_images(const std::vector<data::SamplePlan>& s, std::vector<at::Generator>& gens, double weight) {
  const auto opt = at::TensorOptions().dtype(o.dtype);
  std::vector<at::Tensor> targets, references, poses;
  for (const auto& plan : s) {
    const auto target = dataset.load(plan.clip, plan.frames, o.width, o.height, plan.crop);
    targets.push_back(target.images);
    poses.push_back(target.poses);
    references.push_back(dataset.load(plan.clip, {plan.ref}, o.width, o.height, plan.crop).images);
  }
  ObjectiveInputs in;
  {
    at::NoGradGuard frozen;
    const VaePosterior q = vae->encode(to_vae_input(at::cat(targets), opt));
    const at::Tensor ref = vae->encode(to_vae_input(at::cat(references), opt)).mean;
    std::vector<at::Tensor> z0, noise, t;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto row = static_cast<int64_t>(i);
      const VaePosterior qi{q.mean.slice(0, row, row + 1), q.logvar.slice(0, row, row + 1)};
      z0.push_back(qi.sample(gens[i]) * kMagicAnimateLatentScale);
      noise.push_back(at::randn(z0.back().sizes(), gens[i], at::TensorOptions().dtype(at::kFloat)).to(opt));
      t.push_back(at::randint(0, schedule.train_timesteps(), {1}, gens[i], at::TensorOptions().dtype(at::kLong)));
    }
    in.z0 = at::cat(z0);
    in.ref_latents = ref * kMagicAnimateLatentScale;
    in.pose = to_condition(at::cat(poses), opt);
    in.noise = at::cat(noise);
    in.t = at::cat(t);
  }
  in.text = text;
  in.frames = 1;  // B independent images, not one B-frame clip
  in.ref_dropped = s.front().ref_dropped;
  in.snr_gamma = o.snr_gamma;
  const ObjectiveModels models{appearance.get(), controlnet.get(), unet.get(), trains("appearance_encoder"),
                               trains("controlnet")};
  const double n = static_cast<double>(s.size());
  at::Tensor loss = diffusion_loss(models, schedule, in);  // the mean over the batch: each sample's mean, averaged
  (loss * (weight * n)).backward();
  return loss.item<double>() * n;
}

// --stage vae: a batch of frames through encoder and decoder (vae_objective.h).
double Trainer::Impl::train_vae(const std::vector<data::SamplePlan>& s, std::vector<at::Generator>& gens, double weight) {
  const auto opt = at::TensorOptions().dtype(o.dtype);
  std::vector<at::Tensor> images, noise;
  for (size_t i = 0; i < s.size(); ++i) {
    images.push_back(dataset.load(s[i].clip, {s[i].frames.front()}, o.width, o.height, s[i].crop).images);
    noise.push_back(at::randn({1, vae->config().latent_channels, o.height / kLatentFactor, o.width / kLatentFactor},
                              gens[i], at::TensorOptions().dtype(at::kFloat)));
  }
  const VaeLoss loss = vae_loss(*vae, to_vae_input(at::cat(images), opt), at::cat(noise).to(opt), o.kl_weight);
  const double n = static_cast<double>(s.size());
  (loss.total * (weight * n)).backward();
  return loss.total.item<double>() * n;
}

// One micro-step's samples (global slots): stage 1 and the VAE stage in
// batches, stage 2 clip by clip. Returns the sum of the samples' losses.
double Trainer::Impl::train_micro_batch(const std::vector<int64_t>& slots, double weight) {
  std::vector<data::SamplePlan> plans;
  std::vector<at::Generator> gens;
  for (int64_t slot : slots) plans.push_back(plan(slot)), gens.push_back(sample_generator(o.seed, draws(), slot));
  if (o.vae) return train_vae(plans, gens, weight);
  if (o.sampler.stage == 2) {
    double sum = 0;
    for (size_t i = 0; i < plans.size(); ++i) sum += train_sample(plans[i], gens[i], weight);
    return sum;
  }
  double sum = 0;
  for (bool dropped : {false, true}) {
    std::vector<data::SamplePlan> group;
    std::vector<at::Generator> group_gens;
    for (size_t i = 0; i < plans.size(); ++i)
      if (plans[i].ref_dropped == dropped) group.push_back(plans[i]), group_gens.push_back(gens[i]);
    if (!group.empty()) sum += train_images(group, group_gens, weight);
  }
  return sum;
}

// The frames the VAE's latent scale is measured on: the first frame of each
// of the first 32 clips, uncropped (the same set at every save).
at::Tensor Trainer::Impl::calibration_images() const {
  std::vector<at::Tensor> frames;
  for (size_t c = 0; c < std::min<size_t>(dataset.size(), 32); ++c)
    frames.push_back(dataset.load(c, {0}, o.width, o.height, data::Crop{}).images);
  return to_vae_input(at::cat(frames), at::TensorOptions().dtype(o.dtype));
}

nlohmann::json Trainer::Impl::state_json() const {
  nlohmann::json clips = nlohmann::json::array();
  for (const auto& c : dataset.clips()) clips.push_back({{"name", c.name}, {"frames", c.length}});
  return {
      {"step", step},
      {"seed", o.seed},
      // The data order's unit (data_parallel.h): resuming needs the same N.
      {"world", dp.world()},
      {"samples_per_step", dp.samples_per_step(o.batch, o.grad_accum)},
      {"weights_digest", weights_digest},
      // > 0: the parts hold this average, trainer_state/weights.safetensors the raw weights.
      {"ema_decay", o.ema_decay},
      {"stage", stage_id(o)},
      {"trainable", std::vector<std::string>(trainable.begin(), trainable.end())},
      {"written", std::vector<std::string>(written.begin(), written.end())},
      {"options",
       {{"width", o.width}, {"height", o.height}, {"frames", o.sampler.frames}, {"batch", o.batch},
        {"grad_accum", o.grad_accum}, {"lr", o.optim.lr}, {"warmup", o.optim.warmup},
        {"weight_decay", o.optim.weight_decay}, {"clip_grad", o.optim.clip_grad}, {"tau0", o.sampler.tau0},
        {"tau1", o.sampler.tau1}, {"tau2", o.sampler.tau2}, {"ref_drop", o.sampler.ref_drop},
        {"scaled_linear", o.scaled_linear}, {"prompt", o.prompt}, {"kl_weight", o.kl_weight},
        {"lr_schedule", o.optim.cosine ? "cosine" : "constant"}, {"snr_gamma", o.snr_gamma},
        {"ema_decay", o.ema_decay}}},
      // Every random draw of sample `slot` of step `step` comes from streams
      // seeded by (seed, step, slot): the data order and the RNG state are the
      // step counter, nothing else needs saving.
      {"rng", "counter-based: mt19937_64(seed_seq(seed, step, slot)) for the data, a CPU torch generator seeded from "
              "the same triple for the VAE sample, noise and t; slot is the global one, 0..samples_per_step-1"},
      {"dataset", clips},
      // The VAE stage: the std of the latents (before calibration) the saved VAE was rescaled by.
      {"latent_std", latent_std},
  };
}

// --validate-every: animates the held-out clip (its first frame as the
// reference, its first poses as the motion) with the checkpoint just saved,
// through the inference engine itself, into OUT/validation/step-<n>.mp4 as
// source | pose | result.
void Trainer::Impl::validate(const std::string& checkpoint) const {
  const size_t clip = dataset.size() - 1;
  const int64_t frames = std::min<int64_t>(dataset.clip(clip).length, 16);
  std::vector<int64_t> index(static_cast<size_t>(frames));
  for (int64_t i = 0; i < frames; ++i) index[static_cast<size_t>(i)] = i;
  const auto clip_frames = dataset.load(clip, index, o.width, o.height, data::Crop{});
  EngineOptions engine;
  engine.dtype = o.dtype;
  engine.threads = o.threads;
  Animator animator(resolve_model_paths(checkpoint), engine);
  AnimationParams p;
  p.width = o.width;
  p.height = o.height;
  p.steps = 20;
  p.seed = o.seed;
  p.context = std::min<int64_t>(frames, 16);
  p.overlap = std::min<int64_t>(4, p.context - 1);
  p.prompt = o.prompt;
  const at::Tensor result = video_to_u8(animator.animate(clip_frames.images[0], clip_frames.poses, p));
  std::vector<at::Tensor> grid;
  for (int64_t i = 0; i < frames; ++i)
    grid.push_back(make_grid_row({clip_frames.images[0], clip_frames.poses[i], result[i]}));
  const fs::path dir = fs::path(o.out) / "validation";
  fs::create_directories(dir);
  const std::string path = (dir / ("step-" + std::to_string(step) + ".mp4")).string();
  write_video(path, at::stack(grid), 25.0);
  info("validation: wrote " + path);
}

CheckpointContent Trainer::Impl::checkpoint_content() const {
  CheckpointContent c;
  c.source = sources;
  c.native_size = NativeSize{o.width, o.height};
  auto state_of = [](const nn::Module& m, bool motion) {
    TensorMap out;
    for (const nn::ParamInfo& p : m.state_entries())
      if ((p.name.find("motion_modules.") != std::string::npos) == motion) out[p.name] = p.slot->detach();
    return out;
  };
  auto wanted = [&](const std::string& part) { return trains(part) || written.count(part) > 0; };
  if (wanted("appearance_encoder")) c.appearance_encoder = TrainedPart{appearance_config, state_of(*appearance, false)};
  if (wanted("controlnet")) c.controlnet = TrainedPart{controlnet_config, state_of(*controlnet, false)};
  if (o.vae) {
    // The VAE stage writes the calibrated VAE (latents x 0.18215 of unit std,
    // vae_objective.h) and keeps the weights as trained for --resume.
    c.vae = TrainedPart{vae_config, calibrated_vae_weights(*vae, latent_std, kMagicAnimateLatentScale)};
    // Parts the folder does not have stay absent (not links to the UNet stand-in).
    if (app_from_unet) c.source.paths.appearance_encoder_config.clear();
    if (ctl_from_unet) c.source.paths.controlnet_config.clear();
    c.trained_weights = state_of(*vae, false);
    c.optimizer = optimizer->state();
    c.state = state_json();
    return c;
  }
  if (wanted("unet")) c.unet = TrainedPart{unet_config, state_of(*unet, false)};
  if (wanted("motion_modules")) {
    if (unet->kind() == UNetKind::kVideo) {
      c.motion_modules = state_of(*unet, true);
    } else if (!paths.motion_module.empty()) {
      c.motion_modules = *passed_motion_modules;
    } else {
      // Stage 1 from a folder without motion modules: the checkpoint still
      // needs them to animate, so it gets the fresh (zero-output) ones.
      UNetModel video(UNetConfig::from_json(unet_config, "unet"), UNetKind::kVideo);
      init_motion_modules(video, weights, o.seed);
      c.motion_modules = motion_module_state(video);
    }
  }
  if (ema) {
    // Publish the average; keep the weights as trained for --resume.
    for (const auto& [name, average] : ema->averaged()) {
      const size_t dot = name.find('.');
      const std::string part = name.substr(0, dot), key = name.substr(dot + 1);
      TensorMap* weights = part == "appearance_encoder" ? &c.appearance_encoder->weights
                           : part == "controlnet"       ? &c.controlnet->weights
                           : part == "unet"             ? &c.unet->weights
                                                        : &*c.motion_modules;
      weights->at(key) = average;
    }
    for (const NamedParameter& p : optimizer->parameters()) c.trained_weights[p.name] = p.tensor.detach();
  }
  c.optimizer = optimizer->state();
  c.state = state_json();
  return c;
}

void Trainer::Impl::restore(const std::string& checkpoint) {
  const nlohmann::json st = read_trainer_state(checkpoint);
  if (st.at("stage") != stage_id(o))
    throw Error("cannot resume " + checkpoint + ": it is a stage " + st.at("stage").dump() +
                " checkpoint, this run is stage " + stage_id(o).dump());
  nlohmann::json clips = nlohmann::json::array();
  for (const auto& c : dataset.clips()) clips.push_back({{"name", c.name}, {"frames", c.length}});
  if (st.at("dataset") != clips)
    throw Error("cannot resume " + checkpoint + ": the dataset differs from the one it was trained on");
  check_samples_per_step(st, checkpoint);
  step = st.at("step").get<int64_t>();
  for (const auto& w : st.value("written", std::vector<std::string>{})) written.insert(w);
  optimizer->load_state(read_optimizer_state(checkpoint));
  if (o.vae || st.value("ema_decay", 0.0) > 0) {
    // The checkpoint's parts are not the weights as trained: the VAE stage's
    // VAE is the calibrated copy, an --ema-decay run's parts hold the average
    // (with --ema-decay again, the average continues from them). Training
    // continues from trainer_state/weights.safetensors, keyed by parameter
    // name (the VAE stage's without the "vae." prefix).
    const TensorMap raw = read_trained_weights(checkpoint);
    at::NoGradGuard no_grad;
    for (const NamedParameter& p : optimizer->parameters()) {
      const std::string key = o.vae ? p.name.substr(std::string("vae.").size()) : p.name;
      const auto it = raw.find(key);
      if (it == raw.end() || it->second.sizes() != p.tensor.sizes())
        throw Error(checkpoint + "/trainer_state/weights.safetensors: " +
                    (it == raw.end() ? "missing " : "mis-shaped ") + key);
      p.tensor.detach().copy_(it->second);
    }
  }
  // The journal up to the checkpoint's step (a run killed later left more lines).
  std::ifstream in(fs::path(o.out) / "train.jsonl");
  for (std::string line; std::getline(in, line);) {
    try {
      const auto j = nlohmann::json::parse(line);
      if (j.at("step").get<int64_t>() > step) break;
      journal.push_back(line);
      history.emplace_back(j.at("step").get<int64_t>(), j.at("loss").get<double>());
    } catch (const std::exception&) {
      break;  // a line cut by a crash
    }
  }
}

// Resuming continues the global sample stream only with the same number of
// samples per step (any world x batch x grad_accum that makes it).
void Trainer::Impl::check_samples_per_step(const nlohmann::json& st, const std::string& checkpoint) const {
  const nlohmann::json& so = st.at("options");
  const int64_t saved_world = st.value("world", int64_t{1});
  const int64_t saved = st.value("samples_per_step", saved_world * so.at("batch").get<int64_t>() *
                                                         so.at("grad_accum").get<int64_t>());
  const int64_t now = dp.samples_per_step(o.batch, o.grad_accum);
  if (saved == now) return;
  throw Error("cannot resume " + checkpoint + ": it was trained with " + std::to_string(saved) +
              " samples per step (" + std::to_string(saved_world) + " processes x --batch " +
              std::to_string(so.at("batch").get<int64_t>()) + " x --grad-accum " +
              std::to_string(so.at("grad_accum").get<int64_t>()) + "), this run has " + std::to_string(now) + " (" +
              std::to_string(dp.world()) + " x " + std::to_string(o.batch) + " x " + std::to_string(o.grad_accum) +
              "): keep processes x --batch x --grad-accum the same");
}

Trainer::Trainer(const TrainOptions& options, const TrainCallbacks& callbacks,
                 std::shared_ptr<dist::Communicator> comm)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.o = options;
  m.cb = callbacks;
  m.dp = DataParallel(std::move(comm));
  validate(m.o);
  require_dtype_supported(m.o.dtype, at::kCPU);
  configure_threads(m.o.threads);
  std::string checkpoint;
  if (!m.o.resume.empty()) {
    checkpoint = resolve_resume(m.o.out, m.o.resume);
    m.o.seed = read_trainer_state(checkpoint).at("seed").get<uint64_t>();
  } else if (fs::exists(fs::path(m.o.out) / "latest")) {
    throw Error("--out " + m.o.out + " already holds checkpoints: continue with --resume latest or choose another folder");
  }
  data::ScanOptions scan;
  scan.skip_bad = m.o.skip_bad;
  scan.warn = [&](const std::string& w) { m.info("warning: " + w); };
  m.dataset = data::Dataset::scan(m.o.data, scan);
  for (const auto& c : m.dataset.clips()) m.lengths.push_back(c.length);
  if (m.o.validate_every > 0) {
    // The last clip is held out for --validate-every and never trained on.
    if (m.dataset.size() < 2)
      throw Error("--validate-every holds out the dataset's last clip: it needs at least 2 clips, found 1");
    m.lengths.pop_back();
    m.info("validation clip (held out): " + m.dataset.clips().back().name);
  }
  m.info("dataset: " + std::to_string(m.dataset.size()) + " clips");
  NoiseScheduleConfig sc;
  sc.scaled_linear = m.o.scaled_linear;
  m.schedule = NoiseSchedule(sc);
  m.models_dir = checkpoint.empty() ? m.o.models : checkpoint;
  const std::vector<std::string> parts = !m.o.trainable.empty() ? m.o.trainable : default_trainable(m.o);
  m.trainable.insert(parts.begin(), parts.end());
  m.resolve_models();
  m.sources = resolve_checkpoint_sources(m.paths);
  m.load_models();
  m.select_trainable();
  if (!checkpoint.empty()) {
    m.restore(checkpoint);
    m.info("resumed from " + checkpoint + " at step " + std::to_string(m.step));
  }
  if (m.dp.world() > 1) {
    m.dp.broadcast_parameters(m.optimizer->parameters());  // as DDP: every rank starts from rank 0's weights
    int64_t bytes = 0;
    for (const auto& p : m.optimizer->parameters()) bytes += p.tensor.numel() * static_cast<int64_t>(p.tensor.element_size());
    m.info("data parallel: " + std::to_string(m.dp.world()) + " processes, " +
           std::to_string(m.dp.samples_per_step(m.o.batch, m.o.grad_accum)) + " samples per step; " +
           std::to_string(bytes >> 20) + " MiB of gradients all-reduced per step");
  }
}

Trainer::~Trainer() = default;

int64_t Trainer::step() const { return impl_->step; }

// One optimiser step: world x batch x grad_accum samples, each drawn and
// noised from its own (seed, step, global slot) stream; this rank trains its
// slots with weight 1/n (n all ranks' count), and the gradients are summed
// over the ranks before the (clipped) update: the mean over every sample.
StepReport Trainer::train_step() {
  Impl& m = *impl_;
  const auto started = Clock::now();
  const std::vector<int64_t> mine = m.dp.slots(m.o.batch, m.o.grad_accum);
  const double n = static_cast<double>(m.dp.samples_per_step(m.o.batch, m.o.grad_accum));
  double loss = 0;
  for (size_t first = 0; first < mine.size(); first += static_cast<size_t>(m.o.batch)) {
    const std::vector<int64_t> micro(mine.begin() + static_cast<std::ptrdiff_t>(first),
                                     mine.begin() + static_cast<std::ptrdiff_t>(std::min(mine.size(), first + m.o.batch)));
    loss += m.train_micro_batch(micro, 1.0 / n) / n;
  }
  m.dp.reduce_gradients(m.optimizer->parameters());
  // Every sample's kind, in global slot order (drawing a plan is cheap).
  std::vector<std::string> kinds;
  for (int64_t slot = 0; slot < m.dp.samples_per_step(m.o.batch, m.o.grad_accum); ++slot) {
    const data::SamplePlan plan = m.plan(slot);
    kinds.push_back(m.o.vae ? "image" : plan.ref_dropped ? "ref-dropped" : data::sample_kind_name(plan.kind));
  }
  StepReport r;
  r.lr = m.optimizer->lr_at(m.step);
  r.grad_norm = m.optimizer->step(m.step);
  if (m.ema) m.ema->update(m.step);
  loss = m.dp.sum(loss);
  m.step += 1;
  r.step = m.step;
  r.steps = m.o.steps;
  r.loss = loss;
  r.kind = join(kinds, ",");
  r.seconds = std::chrono::duration<double>(Clock::now() - started).count();

  m.append_journal(r);
  if (m.cb.step) m.cb.step(r);
  return r;
}

// OUT/train.jsonl and the loss history: rank 0's.
void Trainer::Impl::append_journal(const StepReport& r) {
  if (!dp.leader()) return;
  const nlohmann::json line{{"step", r.step}, {"loss", r.loss}, {"lr", r.lr}, {"grad_norm", r.grad_norm},
                            {"seconds", r.seconds}, {"kind", r.kind}};
  journal.push_back(line.dump());
  history.emplace_back(r.step, r.loss);
  fs::create_directories(o.out);
  if (!journal_synced) {
    // First line of this process: rewrite the kept journal (drops lines past a resumed checkpoint).
    journal_synced = true;
    std::string all;
    for (const auto& l : journal) all += l + "\n";
    write_file_atomically((fs::path(o.out) / "train.jsonl").string(), all.data(), all.size());
  } else {
    std::ofstream(fs::path(o.out) / "train.jsonl", std::ios::app) << journal.back() << "\n";
  }
}

std::string Trainer::save() {
  Impl& m = *impl_;
  if (m.dp.world() > 1) m.weights_digest = m.dp.check_in_sync(m.optimizer->parameters(), m.step);
  std::string dir = (fs::path(m.o.out) / checkpoint_name(m.step)).string();
  if (m.dp.leader()) {
    if (m.o.vae) {  // (only rank 0 writes the calibrated VAE)
      if (!m.calibration.defined()) m.calibration = m.calibration_images();
      m.latent_std = latent_std(*m.vae, m.calibration);
    }
    dir = save_checkpoint(m.o.out, m.step, m.checkpoint_content(), m.o.keep, m.cb.on_checkpoint_file);
    const std::string svg = loss_svg(m.history);
    write_file_atomically((fs::path(m.o.out) / "loss.svg").string(), svg.data(), svg.size());
    m.info("saved " + dir);
  }
  m.dp.barrier();  // no rank runs ahead of a save (nor reads a checkpoint not yet written)
  return dir;
}

void Trainer::run(const std::atomic<bool>* cancel) {
  Impl& m = *impl_;
  int64_t saved = m.step;
  while (m.step < m.o.steps) {
    // Every rank stops at the same step (Ctrl-C may reach them at different times).
    if (m.dp.any(cancel && cancel->load())) {
      if (m.step > saved) save();
      throw Cancelled();
    }
    train_step();
    const bool validating = m.o.validate_every > 0 && m.step % m.o.validate_every == 0;
    if ((m.o.save_every > 0 && m.step % m.o.save_every == 0 && m.step < m.o.steps) || validating) save(), saved = m.step;
    if (validating) {
      if (m.dp.leader()) m.validate((fs::path(m.o.out) / checkpoint_name(m.step)).string());
      m.dp.barrier();  // the others wait for rank 0's video (within --dist-timeout)
    }
  }
  // (Rank 0 decides whether the final checkpoint is missing: only it writes.)
  if (m.dp.any(m.step > saved || (m.dp.leader() && !fs::exists(fs::path(m.o.out) / checkpoint_name(m.step))))) save();
}

const std::vector<NamedParameter>& Trainer::trainable_parameters() const { return impl_->optimizer->parameters(); }

std::vector<NamedParameter> Trainer::all_parameters() const {
  const Impl& m = *impl_;
  std::vector<NamedParameter> out;
  auto add = [&](const std::string& part, const nn::Module& mod) {
    for (const nn::ParamInfo& p : mod.parameters()) out.push_back({part + "." + p.name, *p.slot});
  };
  add("appearance_encoder", *m.appearance);
  add("controlnet", *m.controlnet);
  add("unet", *m.unet);
  add("vae", *m.vae);
  return out;
}

}  // namespace ma::train
