// The benchmark's models: MagicAnimate's full-size model set (SD 1.5 text
// encoder, sd-vae-ft-mse, UNet3D with motion modules, appearance encoder,
// DensePose ControlNet) built from the released configs with random weights,
// so no download is needed; or any model folder's configs (the tiny test
// fixtures) with random weights.
#pragma once
#include <cstdint>
#include <string>

#include "util/config.h"
#include "weights/tensor_map.h"
#include "models/sd15_configs.h"
#include "nn/init.h"
#include "nn/module.h"
#include "pipeline/animation.h"

namespace ma::bench {

// The released configs and the weight initialisation live in the library
// (models/sd15_configs.h, nn/init.h); these names stay for the benchmark's callers.
using ma::sd15_text_encoder_config;
using ma::sd15_vae_config;
using nn::random_state;

// Every model with random weights. models_dir empty: the released models'
// configs (sd15_configs.h and the two above) and a tokenizer that knows only
// the special tokens (prompts must be empty); otherwise that folder's
// pretrained_models layout (resolve_model_paths): its config.json files and
// tokenizer, its weight files unread.
// file_dir not empty: each network's random weights are written there as a
// .safetensors file and loaded memory-mapped from it, as real weights load
// (what --low-memory needs); the file is unlinked at once, the mapping keeps
// its pages until the model goes.
EngineModels build_random_models(const std::string& models_dir, const DeviceDtype& opt, uint64_t seed = 1,
                                 const std::string& file_dir = "");

// A tokenizer that knows only CLIP's special tokens (<|startoftext|> 49406,
// <|endoftext|> 49407): the empty prompt tokenizes as with the real vocabulary.
std::unique_ptr<ClipTokenizer> special_tokens_tokenizer();

// Total bytes of the weights a model set holds.
int64_t weight_bytes(const EngineModels& models);

}  // namespace ma::bench
