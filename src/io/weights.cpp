#include "io/weights.h"

#include "io/safetensors.h"
#include "util/error.h"

namespace ma {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

TensorMap load_weights(const std::string& path, const TensorOptions& opt) {
  if (ends_with(path, ".safetensors")) return load_safetensors(path, opt);
  throw Error(path + ": unsupported weight file format (expected .safetensors, .bin, .ckpt or .pt)");
}

ShapeMap read_weight_shapes(const std::string& path) {
  ShapeMap shapes;
  if (ends_with(path, ".safetensors")) {
    for (const auto& e : read_safetensors_header(path).entries) shapes[e.name] = e.shape;
    return shapes;
  }
  for (const auto& [name, t] : load_weights(path)) shapes[name] = t.sizes().vec();
  return shapes;
}

}  // namespace ma
