#include "models/load.h"

#include "weights/weights.h"

namespace ma {

void load_module(nn::Module& module, const TensorMap& weights, const DeviceDtype& options, const std::string& what) {
  nn::LoadOptions opt;
  opt.tensor = options;
  nn::require_ok(nn::load_state_dict(module, weights, opt), what);
}

void load_module_file(nn::Module& module, const std::string& path, const DeviceDtype& options) {
  load_module(module, load_weights(path, options), options, path);
}

}  // namespace ma
