#include "cli/options.h"

#include <sstream>

#include "util/device.h"
#include "util/dtype.h"
#include "util/error.h"

namespace ma::cli {

CLI::Option* add_model_options(CLI::App& app, ModelFlags& flags, bool required) {
  const std::string group = "Models";
  CLI::Option* models = app.add_option("--models", flags.models,
                                       "Folder in the original's pretrained_models layout (stable-diffusion-v1-5/, "
                                       "sd-vae-ft-mse/, MagicAnimate/...)")
                            ->type_name("DIR")
                            ->group(group);
  if (required)
    models->required()->check(CLI::ExistingDirectory);
  else
    models->capture_default_str();
  add_model_part_options(app, flags.parts, "MODELS", group);
  return models;
}

void add_model_part_options(CLI::App& app, ModelPathOverrides& parts, const std::string& base,
                            const std::string& group) {
  auto add = [&](const char* name, std::string& path, const char* type, const std::string& help) {
    CLI::Option* opt = app.add_option(name, path, help)->type_name(type);
    if (!group.empty()) opt->group(group);
  };
  add("--sd", parts.sd, "DIR",
      "Stable Diffusion 1.5 folder (tokenizer, text_encoder, unet, vae) (default: " + base + "/stable-diffusion-v1-5)");
  add("--vae", parts.vae, "DIR", "VAE folder (default: " + base + "/sd-vae-ft-mse)");
  add("--appearance-encoder", parts.appearance_encoder, "DIR",
      "Appearance encoder folder (default: " + base + "/MagicAnimate/appearance_encoder)");
  add("--controlnet", parts.controlnet, "DIR",
      "DensePose ControlNet folder (default: " + base + "/MagicAnimate/densepose_controlnet)");
  add("--motion-module", parts.motion_module, "FILE",
      "Motion module file (default: " + base + "/MagicAnimate/temporal_attention/temporal_attention.ckpt)");
}

void add_engine_options(CLI::App& app, EngineFlags& flags, const std::string& group) {
  CLI::Option* opts[] = {
      app.add_option("--device", flags.device,
                     "Where to compute: cpu, cuda or cuda:N (a CUDA device needs a CUDA build of libtorch)")
          ->type_name("DEV")
          ->capture_default_str(),
      app.add_option("--dtype", flags.dtype,
                     "Weights and compute precision: fp32, bf16 (about half the memory; see docs/performance.md "
                     "for its accuracy) or fp16 (refused where libtorch's CPU kernels lack it)")
          ->type_name("TYPE")
          ->capture_default_str(),
      app.add_option("--threads", flags.threads, "CPU threads (0: every core)")->type_name("N")->capture_default_str(),
      app.add_flag("--low-memory", flags.low_memory,
                   "Networks not running keep their weights in their .safetensors files, out of resident memory "
                   "(CPU only; same output, some time to page them back in; default: off)"),
  };
  if (!group.empty())
    for (CLI::Option* opt : opts) opt->group(group);
}

EngineOptions engine_options_from(const EngineFlags& flags) {
  EngineOptions o;
  if (flags.threads < 0)
    throw Error("--threads must be 0 (every core) or more, got " + std::to_string(flags.threads));
  o.threads = flags.threads;
  o.dtype = parse_dtype(flags.dtype);
  o.device = parse_device(flags.device);
  o.low_memory = flags.low_memory;
  o.validate();
  return o;
}

void add_output_options(CLI::App& app, OutputFlags& flags, const std::string& group, bool json_lines,
                        const std::string& quiet_help) {
  CLI::Option* quiet = app.add_flag("--quiet", flags.quiet, quiet_help);
  if (!group.empty()) quiet->group(group);
  if (!json_lines) return;
  CLI::Option* json =
      app.add_flag("--log-json", flags.log_json, "Print progress and results as JSON lines on stdout (default: off)");
  if (!group.empty()) json->group(group);
}

LogMode log_mode_from(const OutputFlags& flags) {
  if (flags.quiet && flags.log_json) throw Error("--quiet and --log-json cannot be used together");
  return flags.quiet ? LogMode::quiet : flags.log_json ? LogMode::json : LogMode::normal;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void add_sampling_options(CLI::App& app, AnimationParams& p, const std::string& group) {
  auto add = [&](const char* name, auto& field, const char* type, const std::string& help) {
    app.add_option(name, field, help)->type_name(type)->capture_default_str()->group(group);
  };
  add("--steps", p.steps, "N", "Denoising steps");
  add("--scheduler", p.scheduler, "NAME",
      "Sampler: ddim (the original's) or dpmpp-2m (DPM-Solver++ 2M as diffusers' "
      "DPMSolverMultistepScheduler runs it, meant for fewer steps; on the unshipped demo model it was "
      "worse than ddim at equal steps: docs/performance.md)");
  add("--deep-cache", p.deep_cache, "N",
      "Deep-feature reuse (as DeepCache): 1 is off, the exact computation; N >= 2 runs the whole UNet "
      "every N-th step and only its first and last blocks (and ControlNet's first) in between, reusing "
      "the deep features and the reference bank of the last full step (faster, approximate: "
      "docs/performance.md; 1.." + std::to_string(kMaxDeepCacheInterval) + ")");
  add("--guidance", p.guidance, "G", "Classifier-free guidance scale (>= 0)");
  add("--context", p.context, "N", "Frames per temporal window (1.." + std::to_string(kMaxContextFrames) + ")");
  add("--overlap", p.overlap, "N", "Frames shared by neighbouring windows (0..context-1)");
  add("--L", p.length_multiple, "N",
      "The original's L: the motion is padded with its last frame to a multiple of N frames, whatever "
      "--context is (1.." + std::to_string(kMaxLengthMultiple) + ")");
}

}  // namespace ma::cli
