// The released checkpoints' configs (SD 1.5 UNet / appearance encoder /
// DensePose ControlNet), used to build full-size module trees without any
// file: the manifest checks and the benchmark.
#pragma once
#include "io/config.h"

namespace ma {

Json sd15_unet_config();        // stable-diffusion-v1-5/unet/config.json (also the appearance encoder's sizes)
Json sd15_controlnet_config();  // MagicAnimate/densepose_controlnet/config.json

}  // namespace ma
