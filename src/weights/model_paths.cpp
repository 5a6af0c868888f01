#include "weights/model_paths.h"

#include <filesystem>
#include <vector>

#include "util/error.h"

namespace ma {
namespace {

namespace fs = std::filesystem;

// Weight file names in order of preference: safetensors first (no pickle, mmap),
// the fp16 variant last because it loses precision.
const char* const kWeightNames[] = {
    "diffusion_pytorch_model.safetensors", "model.safetensors",       "diffusion_pytorch_model.bin",
    "pytorch_model.bin",                   "diffusion_pytorch_model.fp16.safetensors",
};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// Collects every missing file so the user learns about all of them at once.
class Resolver {
 public:
  std::string file(const std::string& part, const fs::path& path) {
    if (!is_file(path)) missing_.push_back(part + ": " + path.string());
    return path.string();
  }

  std::string config(const std::string& part, const fs::path& dir) { return file(part + " config", dir / "config.json"); }

  explicit Resolver(bool weights_optional) : weights_optional_(weights_optional) {}

  std::string weights(const std::string& part, const fs::path& dir) {
    if (std::string found = find_weight_file(dir.string()); !found.empty()) return found;
    if (weights_optional_) return {};
    std::string tried;
    for (const char* name : kWeightNames) tried += std::string(tried.empty() ? "" : "|") + name;
    missing_.push_back(part + " weights: " + (dir / ("{" + tried + "}")).string());
    return {};
  }

  void finish() const {
    if (missing_.empty()) return;
    std::string msg = "missing model files (" + std::to_string(missing_.size()) + "): ";
    for (size_t i = 0; i < missing_.size(); ++i) msg += (i ? "; " : "") + missing_[i];
    throw Error(msg);
  }

 private:
  bool weights_optional_;
  std::vector<std::string> missing_;
};

fs::path pick(const std::string& override_path, const fs::path& fallback) {
  return override_path.empty() ? fallback : fs::path(override_path);
}

}  // namespace

std::string find_weight_file(const std::string& dir) {
  for (const char* name : kWeightNames)
    if (is_file(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  return {};
}

ModelPaths resolve_model_paths(const std::string& models_dir, const ModelPathOverrides& overrides) {
  const fs::path root(models_dir);
  const fs::path sd = pick(overrides.sd, root / "stable-diffusion-v1-5");
  // The original pipeline decodes with sd-vae-ft-mse; SD 1.5's own VAE is only
  // a fallback for installs that lack it (a present-but-incomplete folder is an error).
  const fs::path vae = pick(overrides.vae, is_dir(root / "sd-vae-ft-mse") ? root / "sd-vae-ft-mse" : sd / "vae");
  const fs::path appearance = pick(overrides.appearance_encoder, root / "MagicAnimate" / "appearance_encoder");
  const fs::path controlnet = pick(overrides.controlnet, root / "MagicAnimate" / "densepose_controlnet");
  const fs::path motion =
      pick(overrides.motion_module, root / "MagicAnimate" / "temporal_attention" / "temporal_attention.ckpt");

  Resolver r(overrides.weights_optional);
  ModelPaths p;
  p.tokenizer_dir = (sd / "tokenizer").string();
  r.file("tokenizer vocabulary", sd / "tokenizer" / "vocab.json");
  r.file("tokenizer merges", sd / "tokenizer" / "merges.txt");
  p.text_encoder_config = r.config("text encoder", sd / "text_encoder");
  p.text_encoder_weights = r.weights("text encoder", sd / "text_encoder");
  p.unet_config = r.config("unet", sd / "unet");
  p.unet_weights = r.weights("unet", sd / "unet");
  p.vae_config = r.config("vae", vae);
  p.vae_weights = r.weights("vae", vae);
  p.appearance_encoder_config = r.config("appearance encoder", appearance);
  p.appearance_encoder_weights = r.weights("appearance encoder", appearance);
  p.controlnet_config = r.config("densepose controlnet", controlnet);
  p.controlnet_weights = r.weights("densepose controlnet", controlnet);
  p.motion_module = r.file("motion module", motion);
  r.finish();
  return p;
}

}  // namespace ma
