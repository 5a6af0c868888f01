#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "util/atomic_file.h"
#include "weights/safetensors.h"
#include "weights/torch_pickle_write.h"
#include "util/error.h"

namespace ma::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "checkpoint-";

void fsync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot open " + p.string() + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error("cannot sync " + p.string());
}

// Everything below `dir` (files, then folders bottom-up), then `dir` itself.
void fsync_tree(const fs::path& dir) {
  std::vector<fs::path> dirs{dir};
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_symlink()) continue;
    if (e.is_regular_file()) fsync_path(e.path());
    else if (e.is_directory()) dirs.push_back(e.path());
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) fsync_path(*it);
}

fs::path canonical_or_throw(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  if (ec) throw Error("cannot resolve " + p.string() + ": " + ec.message());
  return c;
}

void link(const fs::path& target, const fs::path& at) {
  fs::create_directories(at.parent_path());
  fs::create_directory_symlink(canonical_or_throw(target), at);
}

void link_file(const fs::path& target, const fs::path& at) {
  fs::create_directories(at.parent_path());
  fs::create_symlink(canonical_or_throw(target), at);
}

void write_text(const fs::path& p, const std::string& text) { write_file_atomically(p.string(), text.data(), text.size()); }

int64_t step_of(const std::string& name) {
  if (name.rfind(kPrefix, 0) != 0) return -1;
  const std::string digits = name.substr(std::string(kPrefix).size());
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

}  // namespace

std::string checkpoint_name(int64_t step) { return kPrefix + std::to_string(step); }

CheckpointSources resolve_checkpoint_sources(const ModelPaths& p) {
  auto canon = [](const std::string& path) { return path.empty() ? path : canonical_or_throw(path).string(); };
  CheckpointSources s;
  s.paths = p;
  for (std::string* f : {&s.paths.tokenizer_dir, &s.paths.text_encoder_config, &s.paths.text_encoder_weights,
                         &s.paths.unet_config, &s.paths.unet_weights, &s.paths.vae_config, &s.paths.vae_weights,
                         &s.paths.appearance_encoder_config, &s.paths.appearance_encoder_weights,
                         &s.paths.controlnet_config, &s.paths.controlnet_weights, &s.paths.motion_module})
    *f = canon(*f);
  // The base folder as the models folder names it (its unet/ may be a link of its own).
  const fs::path sd = fs::path(p.unet_config).parent_path().parent_path();
  s.sd = canon(sd.string());
  s.vae = canon(fs::path(p.vae_config).parent_path().string());
  for (const char* sub : {"tokenizer", "text_encoder", "scheduler", "vae"})
    if (fs::exists(sd / sub)) s.sd_parts[sub] = canon((sd / sub).string());
  return s;
}

std::string save_checkpoint(const std::string& out_dir, int64_t step, const CheckpointContent& c, int64_t keep,
                            const std::function<void(const std::string&)>& on_file) {
  const fs::path out(out_dir), final_dir = out / checkpoint_name(step);
  const fs::path tmp = out / ("." + checkpoint_name(step) + ".partial");
  fs::create_directories(out);
  fs::remove_all(tmp);
  auto written = [&](const fs::path& p) {
    if (on_file) on_file(p.string());
  };
  try {
    fs::create_directories(tmp);
    auto write_part = [&](const TrainedPart& part, const fs::path& dir) {
      fs::create_directories(dir);
      write_text(dir / "config.json", part.config.dump(2) + "\n");
      written(dir / "config.json");
      save_safetensors((dir / "diffusion_pytorch_model.safetensors").string(), part.weights);
      written(dir / "diffusion_pytorch_model.safetensors");
    };
    // The base model: linked whole, or rebuilt around a trained unet/.
    const CheckpointSources& src = c.source;
    if (c.unet) {
      for (const auto& [sub, dir] : src.sd_parts) link(dir, tmp / "stable-diffusion-v1-5" / sub);
      write_part(*c.unet, tmp / "stable-diffusion-v1-5" / "unet");
    } else {
      link(src.sd, tmp / "stable-diffusion-v1-5");
    }
    // sd-vae-ft-mse unless the source decodes with SD's own vae/ (the resolver's fallback).
    const auto sd_vae = src.sd_parts.find("vae");
    if (c.vae) write_part(*c.vae, tmp / "sd-vae-ft-mse");
    else if (sd_vae == src.sd_parts.end() || sd_vae->second != src.vae) link(src.vae, tmp / "sd-vae-ft-mse");
    const fs::path ma = tmp / "MagicAnimate";
    if (c.appearance_encoder) write_part(*c.appearance_encoder, ma / "appearance_encoder");
    else if (!src.paths.appearance_encoder_config.empty())
      link(fs::path(src.paths.appearance_encoder_config).parent_path(), ma / "appearance_encoder");
    if (c.controlnet) write_part(*c.controlnet, ma / "densepose_controlnet");
    else if (!src.paths.controlnet_config.empty())
      link(fs::path(src.paths.controlnet_config).parent_path(), ma / "densepose_controlnet");
    const fs::path motion = ma / "temporal_attention" / "temporal_attention.ckpt";
    if (c.motion_modules) {
      fs::create_directories(motion.parent_path());
      save_torch_state_dict(motion.string(), *c.motion_modules);
      written(motion);
    } else if (!src.paths.motion_module.empty()) {  // (the VAE stage of a folder without any: none)
      link_file(src.paths.motion_module, motion);
    }
    if (c.native_size) {
      write_native_size(tmp.string(), *c.native_size);
      written(tmp / kModelInfoFile);
    }
    fs::create_directories(tmp / "trainer_state");
    save_safetensors((tmp / "trainer_state" / "optimizer.safetensors").string(), c.optimizer);
    written(tmp / "trainer_state" / "optimizer.safetensors");
    if (!c.trained_weights.empty()) {
      save_safetensors((tmp / "trainer_state" / "weights.safetensors").string(), c.trained_weights);
      written(tmp / "trainer_state" / "weights.safetensors");
    }
    write_text(tmp / "trainer_state" / "state.json", c.state.dump(2) + "\n");
    written(tmp / "trainer_state" / "state.json");
    fsync_tree(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  // Complete: publish it, then point `latest` at it.
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
  const fs::path latest_tmp = out / ".latest.partial";
  fs::remove(latest_tmp);
  fs::create_directory_symlink(checkpoint_name(step), latest_tmp);
  fs::rename(latest_tmp, out / "latest");
  fsync_path(out);

  if (keep > 0) {
    std::vector<int64_t> steps;
    for (const auto& e : fs::directory_iterator(out))
      if (e.is_directory() && !e.is_symlink() && step_of(e.path().filename().string()) >= 0)
        steps.push_back(step_of(e.path().filename().string()));
    std::sort(steps.rbegin(), steps.rend());
    for (size_t i = static_cast<size_t>(keep); i < steps.size(); ++i)
      if (steps[i] != step) fs::remove_all(out / checkpoint_name(steps[i]));
  }
  return final_dir.string();
}

std::string resolve_resume(const std::string& out_dir, const std::string& resume) {
  fs::path dir = resume == "latest" ? fs::path(out_dir) / "latest" : fs::path(resume);
  if (!fs::exists(dir / "trainer_state" / "state.json"))
    throw Error("cannot resume from " + dir.string() + ": no trainer_state/state.json there" +
                (resume == "latest" ? " (no checkpoint saved yet in " + out_dir + ")" : ""));
  return canonical_or_throw(dir).string();
}

nlohmann::json read_trainer_state(const std::string& checkpoint_dir) {
  const fs::path p = fs::path(checkpoint_dir) / "trainer_state" / "state.json";
  std::ifstream in(p);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(p.string() + ": " + e.what());
  }
}

TensorMap read_trained_weights(const std::string& checkpoint_dir) {
  return load_safetensors((fs::path(checkpoint_dir) / "trainer_state" / "weights.safetensors").string());
}

TensorMap read_optimizer_state(const std::string& checkpoint_dir) {
  return load_safetensors((fs::path(checkpoint_dir) / "trainer_state" / "optimizer.safetensors").string());
}

}  // namespace ma::train
