// Where the trainer's networks start when the models folder lacks their
// MagicAnimate files (the paper's initialisation):
//  - the appearance encoder: a copy of the base UNet (its tree is the UNet's
//    up to the last banked layer, so the UNet's weights load into it);
//  - the ControlNet: diffusers ControlNetModel.from_unet, i.e. the UNet's
//    encoder half copied, the conditioning embedding freshly initialised with
//    its last conv zero, and every zero convolution zero;
//  - motion modules: fresh AnimateDiff modules whose output projections are
//    zero, so the 3D UNet starts out computing exactly the image UNet.
#pragma once
#include <nlohmann/json.hpp>

#include "weights/tensor_map.h"
#include "models/controlnet.h"
#include "models/unet.h"

namespace ma::train {

// diffusers ControlNetModel's default conditioning_embedding_out_channels.
extern const std::vector<int64_t> kDefaultConditioningChannels;

// The ControlNet config.json derived from a UNet's (what from_unet writes).
nlohmann::json controlnet_config_from_unet(const nlohmann::json& unet_config);

// Loads `unet_weights` into `controlnet` (built from controlnet_config_from_unet)
// as from_unet copies them, the rest initialised as described above.
void init_controlnet_from_unet(ControlNetModel& controlnet, const TensorMap& unet_weights, const DeviceDtype& opt,
                               uint64_t seed);

// Initialises every motion module of a video UNet in place: random weights,
// zero proj_out, the sinusoidal `pe` buffers AnimateDiff computes.
void init_motion_modules(UNetModel& unet, const DeviceDtype& opt, uint64_t seed);

// AnimateDiff's PositionalEncoding table [1, max_len, dim].
at::Tensor sinusoidal_position_encoding(int64_t max_len, int64_t dim);

// The motion-module entries (keys containing "motion_modules.") of a module tree.
TensorMap motion_module_state(const nn::Module& unet);

}  // namespace ma::train
