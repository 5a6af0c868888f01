// The training objective of one sample, L = ||eps - eps_theta(z_t, t, I_ref, p)||^2
// (MagicAnimate §3.4), on the engine's own modules. Separate from the data
// side so tests can feed it recorded tensors (the one-step parity check).
#pragma once
#include <ATen/ATen.h>

#include "diffusion/noise_schedule.h"
#include "models/controlnet.h"
#include "models/unet.h"

namespace ma::train {

struct ObjectiveModels {
  const UNetModel* appearance_encoder = nullptr;
  const ControlNetModel* controlnet = nullptr;
  const UNetModel* unet = nullptr;  // kImage (stage 1) or kVideo (stage 2)
  // Parts whose forward builds an autograd graph (the trainable ones); the
  // others run under NoGradGuard.
  bool grad_appearance_encoder = false, grad_controlnet = false;
};

struct ObjectiveInputs {
  at::Tensor z0;           // [F, 4, h, w] target latents (posterior sample x 0.18215)
  at::Tensor ref_latents;  // [1, 4, h, w] clean reference latents (posterior mean x 0.18215)
  at::Tensor pose;         // [F, 3, H, W] DensePose condition in [0, 1]
  at::Tensor noise;        // [F, 4, h, w] epsilon
  at::Tensor t;            // int64 [1]: one timestep for the clip
  at::Tensor text;         // [1, M, D] prompt embedding
  bool ref_dropped = false;  // train the unconditional path (no reference bank)
  // Frames per clip: 0 = z0 is one clip of all its rows; 1 = a batch of
  // independent images (stage 1), each with its own row of ref_latents and t.
  int64_t frames = 0;
  // > 0: Min-SNR-gamma weighting (Hang et al. 2023; diffusers' --snr_gamma):
  // each sample's MSE times min(SNR(t), gamma) / SNR(t), SNR = a_t / (1 - a_t),
  // which stops the nearly noise-free timesteps from dominating the gradient.
  double snr_gamma = 0;
};

// The mean squared error (float32) with its graph, ready for backward():
// over every element, or with snr_gamma the weighted mean of each sample's
// (each row's with frames = 1, else the clip's) mean.
at::Tensor diffusion_loss(const ObjectiveModels& m, const NoiseSchedule& schedule, const ObjectiveInputs& in);

}  // namespace ma::train
