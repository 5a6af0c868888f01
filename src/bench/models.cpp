#include "bench/models.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <fstream>
#include <vector>

#include "weights/model_paths.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/controlnet.h"
#include "models/load.h"
#include "models/sd15_configs.h"
#include "models/unet.h"
#include "text/clip_tokenizer.h"
#include "util/error.h"
#include "util/temp_dir.h"
#include "weights/safetensors.h"

namespace ma::bench {

std::unique_ptr<ClipTokenizer> special_tokens_tokenizer() {
  const TempDir dir("magicanimate-bench-tokenizer");
  std::ofstream(dir.path() + "/vocab.json") << R"({"<|startoftext|>": 49406, "<|endoftext|>": 49407})";
  std::ofstream(dir.path() + "/merges.txt") << "#version: 0.2\n";
  try {
    return std::make_unique<ClipTokenizer>(dir.path());
  } catch (const std::exception& e) {
    throw Error(std::string("bench: tokenizer: ") + e.what());
  }
}

EngineModels build_random_models(const std::string& models_dir, const DeviceDtype& opt, uint64_t seed,
                                 const std::string& file_dir) {
  // Random weights, or the same weights memory-mapped back from a file.
  auto state = [&](const nn::Module& net, uint64_t s, const std::string& name) {
    TensorMap weights = random_state(net, opt, s);
    if (file_dir.empty()) return weights;
    const std::string path = file_dir + "/" + name + ".safetensors";
    save_safetensors(path, weights);
    weights.clear();
    TensorMap mapped = load_safetensors(path, opt);
    std::remove(path.c_str());
    return mapped;
  };
  EngineModels m;
  if (models_dir.empty()) {
    m.tokenizer = special_tokens_tokenizer();
    m.text_encoder = std::make_unique<ClipTextModel>(ClipTextConfig::from_json(sd15_text_encoder_config()));
    m.vae = std::make_unique<AutoencoderKL>(AutoencoderKLConfig::from_json(sd15_vae_config()));
    const UNetConfig unet = UNetConfig::from_json(sd15_unet_config(), "SD 1.5 UNet config");
    m.appearance_encoder = std::make_unique<UNetModel>(unet, UNetKind::kAppearanceEncoder);
    m.controlnet =
        std::make_unique<ControlNetModel>(UNetConfig::from_json(sd15_controlnet_config(), "ControlNet config"));
    m.unet = std::make_unique<UNetModel>(unet, UNetKind::kVideo);
  } else {
    const ModelPaths paths = resolve_model_paths(models_dir);
    m.tokenizer = std::make_unique<ClipTokenizer>(paths.tokenizer_dir);
    m.text_encoder = std::make_unique<ClipTextModel>(paths.text_encoder_config);
    m.vae = std::make_unique<AutoencoderKL>(paths.vae_config);
    m.appearance_encoder =
        std::make_unique<UNetModel>(UNetConfig::load(paths.appearance_encoder_config), UNetKind::kAppearanceEncoder);
    m.controlnet = std::make_unique<ControlNetModel>(UNetConfig::load(paths.controlnet_config));
    m.unet = std::make_unique<UNetModel>(UNetConfig::load(paths.unet_config), UNetKind::kVideo);
  }
  // Through the normal loaders, so every model is marked loaded and checked.
  m.text_encoder->load(state(*m.text_encoder, seed, "text_encoder"), opt, "random text encoder weights");
  m.vae->load(state(*m.vae, seed + 1, "vae"), opt, "random VAE weights");
  load_module(*m.appearance_encoder, state(*m.appearance_encoder, seed + 2, "appearance_encoder"), opt,
              "random appearance encoder weights");
  load_module(*m.controlnet, state(*m.controlnet, seed + 3, "controlnet"), opt, "random ControlNet weights");
  load_module(*m.unet, state(*m.unet, seed + 4, "unet"), opt, "random UNet weights");
  return m;
}

int64_t weight_bytes(const EngineModels& models) { return models.weight_bytes().total; }

}  // namespace ma::bench
