#include "diffusion/sampler.h"

#include <algorithm>

#include "diffusion/ddim.h"
#include "diffusion/dpm_solver.h"
#include "util/error.h"

namespace ma {

namespace {

// DdimScheduler is stateless: this only fixes the run's step count.
class DdimSampler final : public Sampler {
 public:
  explicit DdimSampler(int64_t steps) : steps_(steps), timesteps_(ddim_.timesteps(steps)) {}
  const std::vector<int64_t>& timesteps() const override { return timesteps_; }
  at::Tensor step(size_t i, const at::Tensor& noise_pred, const at::Tensor& sample) override {
    return ddim_.step(noise_pred, timesteps_.at(i), sample, steps_);
  }

 private:
  DdimScheduler ddim_;
  int64_t steps_;
  std::vector<int64_t> timesteps_;
};

}  // namespace

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names = {"ddim", "dpmpp-2m"};
  return names;
}

std::string sampler_name_list() {
  std::string list;
  for (const std::string& known : sampler_names()) list += (list.empty() ? "" : ", ") + known;
  return list;
}

bool is_sampler_name(const std::string& name) {
  const auto& names = sampler_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

void check_sampler_name(const std::string& name) {
  if (!is_sampler_name(name)) throw Error("scheduler must be one of " + sampler_name_list() + ", got '" + name + "'");
}

std::unique_ptr<Sampler> make_sampler(const std::string& name, int64_t steps) {
  check_sampler_name(name);
  if (name == "dpmpp-2m") return std::make_unique<DpmSolverPP2M>(steps);
  return std::make_unique<DdimSampler>(steps);
}

}  // namespace ma
