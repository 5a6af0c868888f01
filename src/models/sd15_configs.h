// The released checkpoints' configs of all four models (SD 1.5 UNet /
// appearance encoder, DensePose ControlNet, sd-vae-ft-mse, CLIP ViT-L/14
// text encoder), used to build full-size module trees without any file: the
// manifest checks, the benchmark, a trainer's fresh models.
#pragma once
#include "util/config.h"

namespace ma {

Json sd15_unet_config();        // stable-diffusion-v1-5/unet/config.json (also the appearance encoder's sizes)
Json sd15_controlnet_config();  // MagicAnimate/densepose_controlnet/config.json
Json sd15_vae_config();         // sd-vae-ft-mse/config.json
Json sd15_text_encoder_config();  // stable-diffusion-v1-5/text_encoder/config.json (CLIP ViT-L/14 text)

}  // namespace ma
