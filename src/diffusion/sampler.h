// The sampler of one denoising run: its timesteps and its update, one object
// per run because a multistep solver remembers earlier steps. The pipeline
// (and every program through AnimationParams::scheduler) picks one by name:
//   "ddim"      DdimScheduler (diffusion/ddim.h), the original's sampler and
//               the default;
//   "dpmpp-2m"  DpmSolverPP2M (diffusion/dpm_solver.h), DPM-Solver++ 2M as
//               diffusers' DPMSolverMultistepScheduler would run it.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace ma {

constexpr const char* kDefaultSampler = "ddim";

// Every name make_sampler accepts, the default first.
const std::vector<std::string>& sampler_names();

// "ddim, dpmpp-2m": sampler_names() for messages.
std::string sampler_name_list();
bool is_sampler_name(const std::string& name);
// Throws ma::Error (one line, listing the known names) for an unknown name.
void check_sampler_name(const std::string& name);

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The run's timesteps, noisiest first; the run takes timesteps().size() steps.
  virtual const std::vector<int64_t>& timesteps() const = 0;
  // Step i (0-based; every step once, in order): the sample at timesteps()[i]
  // and the guided noise prediction there -> the sample at the next timestep.
  virtual at::Tensor step(size_t i, const at::Tensor& noise_pred, const at::Tensor& sample) = 0;
};

// A fresh sampler for a run of `steps` steps with the release's noise
// schedule; throws ma::Error for an unknown name or a step count the sampler
// cannot take.
std::unique_ptr<Sampler> make_sampler(const std::string& name, int64_t steps);

}  // namespace ma
