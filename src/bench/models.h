// The benchmark's models: MagicAnimate's full-size model set (SD 1.5 text
// encoder, sd-vae-ft-mse, UNet3D with motion modules, appearance encoder,
// DensePose ControlNet) built from the released configs with random weights,
// so no download is needed; or any model folder's configs (the tiny test
// fixtures) with random weights.
#pragma once
#include <cstdint>
#include <string>

#include "io/config.h"
#include "io/tensor_map.h"
#include "nn/module.h"
#include "pipeline/animation.h"

namespace ma::bench {

Json sd15_vae_config();           // sd-vae-ft-mse/config.json
Json sd15_text_encoder_config();  // stable-diffusion-v1-5/text_encoder/config.json (CLIP ViT-L/14 text)

// Random values for every parameter/buffer of `m`, in opt's dtype and device,
// deterministic per seed: matrices and kernels N(0, 0.02^2) (the usual init
// scale), 1-D weights (norm scales) 1 + N(0, 0.02^2), biases and other
// vectors N(0, 0.02^2); integer buffers (CLIP position_ids) 0, 1, 2, ...
// (Stretches of one pool of at most 16 M normal draws, for speed.)
TensorMap random_state(const nn::Module& m, const TensorOptions& opt, uint64_t seed);

// Every model with random weights. models_dir empty: the released models'
// configs (sd15_configs.h and the two above) and a tokenizer that knows only
// the special tokens (prompts must be empty); otherwise that folder's
// pretrained_models layout (resolve_model_paths): its config.json files and
// tokenizer, its weight files unread.
EngineModels build_random_models(const std::string& models_dir, const TensorOptions& opt, uint64_t seed = 1);

// A tokenizer that knows only CLIP's special tokens (<|startoftext|> 49406,
// <|endoftext|> 49407): the empty prompt tokenizes as with the real vocabulary.
std::unique_ptr<ClipTokenizer> special_tokens_tokenizer();

// Total bytes of the weights a model set holds.
int64_t weight_bytes(const EngineModels& models);

}  // namespace ma::bench
