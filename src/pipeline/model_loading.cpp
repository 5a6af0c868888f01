#include "pipeline/model_loading.h"

#include <c10/core/InferenceMode.h>

#include <optional>

#include "weights/weights.h"
#include "models/load.h"
#include "util/error.h"

namespace ma {

std::unique_ptr<ClipTokenizer> load_tokenizer(const ModelPaths& paths) {
  return std::make_unique<ClipTokenizer>(paths.tokenizer_dir);
}

std::unique_ptr<ClipTextModel> load_text_encoder(const ModelPaths& paths, const DeviceDtype& options) {
  auto model = std::make_unique<ClipTextModel>(paths.text_encoder_config);
  model->load(paths.text_encoder_weights, options);
  return model;
}

std::unique_ptr<AutoencoderKL> load_vae(const ModelPaths& paths, const DeviceDtype& options) {
  auto model = std::make_unique<AutoencoderKL>(paths.vae_config);
  model->load(paths.vae_weights, options);
  return model;
}

std::unique_ptr<UNetModel> load_appearance_encoder(const ModelPaths& paths, const DeviceDtype& options) {
  auto model =
      std::make_unique<UNetModel>(UNetConfig::load(paths.appearance_encoder_config), UNetKind::kAppearanceEncoder);
  load_module_file(*model, paths.appearance_encoder_weights, options);
  return model;
}

std::unique_ptr<ControlNetModel> load_controlnet(const ModelPaths& paths, const DeviceDtype& options) {
  auto model = std::make_unique<ControlNetModel>(UNetConfig::load(paths.controlnet_config));
  load_module_file(*model, paths.controlnet_weights, options);
  return model;
}

std::unique_ptr<UNetModel> load_unet3d(const ModelPaths& paths, const DeviceDtype& options,
                                       const MotionModuleConfig& motion) {
  auto model = std::make_unique<UNetModel>(UNetConfig::load(paths.unet_config), UNetKind::kVideo, motion);
  TensorMap state = load_weights(paths.unet_weights, options);
  for (auto& [key, tensor] : load_weights(paths.motion_module, options)) {
    if (state.count(key)) throw Error(paths.motion_module + ": key " + key + " is also in " + paths.unet_weights);
    state.emplace(key, tensor);
  }
  load_module(*model, state, options, paths.unet_weights + " + " + paths.motion_module);
  return model;
}

EngineModels load_models(const ModelPaths& paths, const DeviceDtype& weights, bool for_inference) {
  std::optional<c10::InferenceMode> inference;
  if (for_inference) inference.emplace();
  EngineModels models;
  models.tokenizer = load_tokenizer(paths);
  models.text_encoder = load_text_encoder(paths, weights);
  models.vae = load_vae(paths, weights);
  models.appearance_encoder = load_appearance_encoder(paths, weights);
  models.controlnet = load_controlnet(paths, weights);
  models.unet = load_unet3d(paths, weights, MotionModuleConfig{});
  return models;
}

}  // namespace ma
