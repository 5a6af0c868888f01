#include "bench/train_bench.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::GradMode (not via ATen.h on 2.x)
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "bench/memory.h"
#include "bench/models.h"
#include "diffusion/noise_schedule.h"
#include "weights/model_paths.h"
#include "models/autoencoder_kl.h"
#include "models/controlnet.h"
#include "models/load.h"
#include "models/sd15_configs.h"
#include "models/unet.h"
#include "train/objective.h"
#include "train/optimizer.h"

namespace ma::bench {
namespace {

std::string key_of(int stage, bool checkpointed) {
  return "train_stage" + std::to_string(stage) + "_step" + (checkpointed ? "_checkpointed" : "");
}

// One stage's networks with random weights, the trainable parts as the
// trainer makes them (fresh leaves that require grad, in the optimiser).
struct StageModels {
  std::unique_ptr<AutoencoderKL> vae;
  std::unique_ptr<UNetModel> appearance, unet;
  std::unique_ptr<ControlNetModel> controlnet;
  std::unique_ptr<train::Optimizer> optimizer;
  int64_t trainable = 0;     // parameters (elements)
  int64_t weight_bytes = 0;  // every network's weights
};

StageModels build_stage(int stage, const BenchOptions& o) {
  const DeviceDtype opt{o.dtype, at::kCPU};
  UNetConfig unet, controlnet, appearance;
  StageModels m;
  if (o.models_dir.empty()) {
    unet = appearance = UNetConfig::from_json(sd15_unet_config(), "SD 1.5 UNet config");
    controlnet = UNetConfig::from_json(sd15_controlnet_config(), "ControlNet config");
    m.vae = std::make_unique<AutoencoderKL>(AutoencoderKLConfig::from_json(sd15_vae_config()));
  } else {
    const ModelPaths paths = resolve_model_paths(o.models_dir);
    unet = UNetConfig::load(paths.unet_config);
    appearance = UNetConfig::load(paths.appearance_encoder_config);
    controlnet = UNetConfig::load(paths.controlnet_config);
    m.vae = std::make_unique<AutoencoderKL>(paths.vae_config);
  }
  m.vae->load(random_state(*m.vae, opt, 2), opt, "random VAE weights");
  m.appearance = std::make_unique<UNetModel>(appearance, UNetKind::kAppearanceEncoder);
  m.controlnet = std::make_unique<ControlNetModel>(controlnet);
  m.unet = std::make_unique<UNetModel>(unet, stage == 1 ? UNetKind::kImage : UNetKind::kVideo);
  load_module(*m.appearance, random_state(*m.appearance, opt, 3), opt, "random appearance encoder weights");
  load_module(*m.controlnet, random_state(*m.controlnet, opt, 4), opt, "random ControlNet weights");
  load_module(*m.unet, random_state(*m.unet, opt, 5), opt, "random UNet weights");

  std::vector<train::NamedParameter> params;
  auto take = [&](const std::string& part, nn::Module& mod, bool motion_only) {
    for (const nn::ParamInfo& p : mod.parameters()) {
      if (motion_only && p.name.find("motion_modules.") == std::string::npos) continue;
      *p.slot = p.slot->detach().clone().requires_grad_(true);
      params.push_back({part + "." + p.name, *p.slot});
      m.trainable += p.slot->numel();
    }
  };
  if (stage == 1) {
    take("appearance_encoder", *m.appearance, false);
    take("controlnet", *m.controlnet, false);
  } else {
    take("motion_modules", *m.unet, true);
  }
  for (const nn::Module* mod : std::initializer_list<const nn::Module*>{m.vae.get(), m.appearance.get(),
                                                                        m.controlnet.get(), m.unet.get()})
    for (const nn::ParamInfo& p : mod->state_entries()) m.weight_bytes += static_cast<int64_t>(p.slot->nbytes());
  m.optimizer = std::make_unique<train::Optimizer>(std::move(params), train::OptimizerOptions{});
  return m;
}

// One step of one sample, as Trainer::train_sample + train_step do it.
void train_step(const StageModels& m, int stage, int64_t frames, int64_t size, const BenchOptions& o) {
  const auto opt = at::TensorOptions().dtype(o.dtype);
  at::Generator gen = at::detail::createCPUGenerator(1);
  train::ObjectiveInputs in;
  {
    at::NoGradGuard frozen;
    const at::Tensor target = at::rand({frames, 3, size, size}, gen).mul(2).sub(1).to(opt);
    const at::Tensor reference = at::rand({1, 3, size, size}, gen).mul(2).sub(1).to(opt);
    in.z0 = m.vae->encode(target).sample(gen) * kMagicAnimateLatentScale;
    in.ref_latents = m.vae->encode(reference).mean * kMagicAnimateLatentScale;
    in.pose = at::rand({frames, 3, size, size}, gen).to(opt);
    in.noise = at::randn(in.z0.sizes(), gen, at::TensorOptions().dtype(at::kFloat)).to(opt);
    in.t = at::randint(0, 1000, {1}, gen, at::TensorOptions().dtype(at::kLong));
    in.text = at::randn({1, 77, m.unet->config().cross_attention_dim}, gen).to(opt);
  }
  const train::ObjectiveModels models{m.appearance.get(), m.controlnet.get(), m.unet.get(), stage == 1, stage == 1};
  train::diffusion_loss(models, NoiseSchedule(), in).backward();
  m.optimizer->step(0);
}

}  // namespace

std::vector<std::string> train_component_keys() {
  return {key_of(1, false), key_of(1, true), key_of(2, false), key_of(2, true)};
}

void run_train_benchmark(const BenchOptions& o, BenchReport& r) {
  auto wanted = [&](const std::string& key) {
    return o.only.empty() || std::find(o.only.begin(), o.only.end(), key) != o.only.end();
  };
  auto log = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  for (int stage : {1, 2}) {
    if (!wanted(key_of(stage, false)) && !wanted(key_of(stage, true))) continue;
    const int64_t frames = stage == 1 ? 1 : o.frames;
    log("bench: building the stage-" + std::to_string(stage) + " models (random weights)");
    StageModels m = build_stage(stage, o);
    r.weight_bytes = std::max(r.weight_bytes, m.weight_bytes);
    for (bool checkpointed : {false, true}) {
      const std::string key = key_of(stage, checkpointed);
      if (!wanted(key)) continue;
      m.appearance->gradient_checkpointing = m.controlnet->gradient_checkpointing = m.unet->gradient_checkpointing =
          checkpointed;
      const std::string what =
          "one stage-" + std::to_string(stage) + " training step, " +
          (stage == 1 ? "1 image (appearance encoder + ControlNet trained, "
                      : std::to_string(frames) + "-frame clip (motion modules trained, ") +
          std::to_string(m.trainable / 1000000) + " M parameters): VAE encode, loss forward + backward, AdamW" +
          (checkpointed ? ", --gradient-checkpointing" : "");
      r.components.push_back(measure_component(key, what, 1, o.log, [&] { train_step(m, stage, frames, o.size, o); }));
    }
  }
}

}  // namespace ma::bench
