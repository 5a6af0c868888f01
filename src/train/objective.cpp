#include "train/objective.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::AutoGradMode (not via ATen.h on 2.x)

#include "nn/reference_bank.h"

namespace ma::train {

at::Tensor diffusion_loss(const ObjectiveModels& m, const NoiseSchedule& schedule, const ObjectiveInputs& in) {
  const int64_t frames = in.frames > 0 ? in.frames : in.z0.size(0);
  at::Tensor zt;
  {
    at::NoGradGuard frozen;  // the forward process: z_t = sqrt(a_t) z0 + sqrt(1 - a_t) eps
    zt = schedule.add_noise(in.z0, in.noise, in.t);
  }
  const at::Tensor timestep = in.t.to(at::kFloat);

  // The appearance encoder banks the clean reference at the same t (as at
  // inference); a dropped reference leaves the bank empty: the uncond path.
  nn::ReferenceBank bank;
  if (!in.ref_dropped) {
    at::AutoGradMode grad(m.grad_appearance_encoder);
    bank.start_write();
    m.appearance_encoder->forward(in.ref_latents, timestep, in.text, 1, nullptr, &bank);
    bank.start_read();
  }

  // DensePose ControlNet residuals, one set per frame.
  ControlResiduals residuals;
  {
    at::AutoGradMode grad(m.grad_controlnet);
    residuals = m.controlnet->forward(zt, timestep, in.text, in.pose);
  }

  // The denoiser over the clip, reading the bank in its mid and up blocks.
  const at::Tensor pred =
      m.unet->forward(zt, timestep, in.text, frames, &residuals, in.ref_dropped ? nullptr : &bank);
  if (!(in.snr_gamma > 0)) return at::mse_loss(pred.to(at::kFloat), in.noise.to(at::kFloat));
  const at::Tensor a = schedule.alphas_cumprod().index_select(0, in.t.cpu()).to(at::kDouble);
  const at::Tensor snr = a / (1 - a);
  const at::Tensor w = (snr.clamp_max(in.snr_gamma) / snr).to(at::kFloat).to(pred.device());  // [1] or [B]
  const at::Tensor err = (pred.to(at::kFloat) - in.noise.to(at::kFloat)).pow(2);
  const at::Tensor per_sample = in.frames == 1 ? err.flatten(1).mean(1) : err.mean().reshape({1});
  return (per_sample * w).mean();
}

}  // namespace ma::train
