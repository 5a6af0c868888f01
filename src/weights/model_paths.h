// Finds every model part in the original's `pretrained_models` layout:
//   stable-diffusion-v1-5/{tokenizer,text_encoder,unet,vae}/
//   sd-vae-ft-mse/
//   MagicAnimate/{appearance_encoder,densepose_controlnet}/
//   MagicAnimate/temporal_attention/temporal_attention.ckpt
// Each part can be overridden by its own path.
#pragma once
#include <string>

namespace ma {

struct ModelPaths {
  std::string tokenizer_dir;            // vocab.json + merges.txt
  std::string text_encoder_config, text_encoder_weights;
  std::string unet_config, unet_weights;
  std::string vae_config, vae_weights;
  std::string appearance_encoder_config, appearance_encoder_weights;
  std::string controlnet_config, controlnet_weights;
  std::string motion_module;            // temporal_attention.ckpt
};

struct ModelPathOverrides {
  std::string sd;                  // stable-diffusion-v1-5 folder
  std::string vae;                 // VAE folder (default: sd-vae-ft-mse, else the SD vae)
  std::string appearance_encoder;  // folder
  std::string controlnet;          // folder
  std::string motion_module;       // file
  // The trainer's fresh parts: a folder with config.json but no weight file
  // resolves to an empty weights path instead of an error (the caller
  // initialises those weights or refuses by name).
  bool weights_optional = false;
};

// In each folder: config.json plus the first of diffusion_pytorch_model.safetensors,
// model.safetensors, diffusion_pytorch_model.bin, pytorch_model.bin,
// diffusion_pytorch_model.fp16.safetensors. Anything missing: one ma::Error
// listing every missing file and where it looked.
ModelPaths resolve_model_paths(const std::string& models_dir, const ModelPathOverrides& overrides = {});

// The weight file resolve_model_paths picks in a part folder (the first of
// the names above that exists), or "" when it has none.
std::string find_weight_file(const std::string& dir);

}  // namespace ma
