// Builds each model part from its config and loads its weights, the one way
// both the engine and `check-models` do it.
#pragma once
#include <memory>

#include "weights/model_paths.h"
#include "weights/tensor_map.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/controlnet.h"
#include "models/unet.h"
#include "pipeline/animation.h"
#include "text/clip_tokenizer.h"

namespace ma {

std::unique_ptr<ClipTokenizer> load_tokenizer(const ModelPaths& paths);
std::unique_ptr<ClipTextModel> load_text_encoder(const ModelPaths& paths, const DeviceDtype& options);
std::unique_ptr<AutoencoderKL> load_vae(const ModelPaths& paths, const DeviceDtype& options);
std::unique_ptr<UNetModel> load_appearance_encoder(const ModelPaths& paths, const DeviceDtype& options);
std::unique_ptr<ControlNetModel> load_controlnet(const ModelPaths& paths, const DeviceDtype& options);
// SD 1.5's 2D UNet weights plus the motion modules' file, checked together so
// every key of the 3D tree is accounted for exactly once.
std::unique_ptr<UNetModel> load_unet3d(const ModelPaths& paths, const DeviceDtype& options,
                                       const MotionModuleConfig& motion = {});

// Every model of a pretrained_models folder in `weights`' dtype and device.
// for_inference: loaded under c10::InferenceMode (what the engine runs
// with). false: plain tensors, so a trainer can set requires_grad on some
// (nn::set_requires_grad) and run the frozen parts under at::NoGradGuard;
// InferenceMode tensors would be refused by autograd.
EngineModels load_models(const ModelPaths& paths, const DeviceDtype& weights, bool for_inference = true);

}  // namespace ma
