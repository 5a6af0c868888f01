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

namespace ma::bench {

std::unique_ptr<ClipTokenizer> special_tokens_tokenizer() {
  char dir_template[] = "/tmp/magicanimate-bench-tokenizer-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (!dir) throw Error("bench: cannot create a temporary folder under /tmp");
  const std::string base = dir;
  std::ofstream(base + "/vocab.json") << R"({"<|startoftext|>": 49406, "<|endoftext|>": 49407})";
  std::ofstream(base + "/merges.txt") << "#version: 0.2\n";
  std::unique_ptr<ClipTokenizer> tokenizer;
  std::string failure;
  try {
    tokenizer = std::make_unique<ClipTokenizer>(base);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  std::remove((base + "/vocab.json").c_str());
  std::remove((base + "/merges.txt").c_str());
  rmdir(base.c_str());
  if (!tokenizer) throw Error("bench: tokenizer: " + failure);
  return tokenizer;
}

EngineModels build_random_models(const std::string& models_dir, const DeviceDtype& opt, uint64_t seed) {
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
  m.text_encoder->load(random_state(*m.text_encoder, opt, seed), opt, "random text encoder weights");
  m.vae->load(random_state(*m.vae, opt, seed + 1), opt, "random VAE weights");
  load_module(*m.appearance_encoder, random_state(*m.appearance_encoder, opt, seed + 2), opt,
              "random appearance encoder weights");
  load_module(*m.controlnet, random_state(*m.controlnet, opt, seed + 3), opt, "random ControlNet weights");
  load_module(*m.unet, random_state(*m.unet, opt, seed + 4), opt, "random UNet weights");
  return m;
}

int64_t weight_bytes(const EngineModels& models) {
  int64_t total = 0;
  auto add = [&](const nn::Module* m) {
    if (!m) return;
    for (const nn::ParamInfo& p : m->state_entries())
      if (p.slot && p.slot->defined()) total += static_cast<int64_t>(p.slot->nbytes());
  };
  add(models.text_encoder.get());
  add(models.vae.get());
  add(models.appearance_encoder.get());
  add(models.controlnet.get());
  add(models.unet.get());
  return total;
}

}  // namespace ma::bench
