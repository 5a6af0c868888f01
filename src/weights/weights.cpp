#include "weights/weights.h"

#include "weights/safetensors.h"
#include "weights/torch_pickle.h"
#include "util/error.h"

namespace ma {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_torch_pickle(const std::string& path) {
  return ends_with(path, ".bin") || ends_with(path, ".ckpt") || ends_with(path, ".pt") || ends_with(path, ".pth");
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Training checkpoints wrap the weights as {"state_dict": {...}, "global_step": N, ...};
// the original then reads only state_dict. The unpickler dot-joins nested dicts.
TensorMap unwrap_state_dict(TensorMap tensors) {
  const std::string wrapper = "state_dict.";
  bool wrapped = false;
  for (const auto& kv : tensors) wrapped = wrapped || starts_with(kv.first, wrapper);
  if (!wrapped) return tensors;
  TensorMap inner;
  for (auto& [name, t] : tensors)
    if (starts_with(name, wrapper)) inner.emplace(name.substr(wrapper.size()), std::move(t));
  return inner;
}

// DataParallel saves "module.<key>"; AnimateDiff-style training saves "unet.<key>".
// Both may be stacked in either order ("module.unet.x").
std::string strip_training_prefixes(std::string key) {
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (const std::string prefix : {"module.", "unet."})
      if (starts_with(key, prefix)) {
        key.erase(0, prefix.size());
        stripped = true;
      }
  }
  return key;
}

TensorMap load_pickle_state_dict(const std::string& path) {
  TensorMap out;
  for (auto& [name, t] : unwrap_state_dict(load_torch_pickle(path))) {
    std::string key = strip_training_prefixes(name);
    if (!out.emplace(key, std::move(t)).second)
      throw Error(path + ": two tensors map to key '" + key + "' after removing module./unet. prefixes");
  }
  return out;
}

at::ScalarType dtype_of_safetensors(const std::string& name) {
  static const std::map<std::string, at::ScalarType> types = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16},
      {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
      {"U8", at::kByte},    {"BOOL", at::kBool}};
  auto it = types.find(name);
  if (it == types.end()) throw Error("unknown safetensors dtype " + name);
  return it->second;
}

[[noreturn]] void unsupported(const std::string& path) {
  throw Error(path + ": unsupported weight file format (expected .safetensors, .bin, .ckpt, .pt or .pth)");
}

}  // namespace

bool is_weight_file(const std::string& path) { return ends_with(path, ".safetensors") || is_torch_pickle(path); }

TensorMap load_weights(const std::string& path, const DeviceDtype& opt) {
  if (ends_with(path, ".safetensors")) return load_safetensors(path, opt);
  if (!is_torch_pickle(path)) unsupported(path);
  TensorMap tensors = load_pickle_state_dict(path);
  for (auto& kv : tensors) kv.second = convert_tensor(kv.second, opt);
  return tensors;
}

TensorMap load_weights_as_stored(const std::string& path) {
  if (ends_with(path, ".safetensors")) {
    // The safetensors loader converts floats to one dtype; float64 holds every
    // stored float type exactly, so casting back restores the file's values.
    std::map<std::string, at::ScalarType> stored;
    TensorMap tensors = load_safetensors(path, {at::kDouble, at::kCPU});
    for (const auto& e : read_safetensors_header(path).entries) stored[e.name] = dtype_of_safetensors(e.dtype);
    for (auto& [name, t] : tensors) t = t.to(stored.at(name));
    return tensors;
  }
  if (!is_torch_pickle(path)) unsupported(path);
  return load_pickle_state_dict(path);
}

ShapeMap read_weight_shapes(const std::string& path) {
  ShapeMap shapes;
  if (ends_with(path, ".safetensors")) {
    for (const auto& e : read_safetensors_header(path).entries) shapes[e.name] = e.shape;
    return shapes;
  }
  for (const auto& [name, t] : load_weights_as_stored(path)) shapes[name] = t.sizes().vec();
  return shapes;
}

}  // namespace ma
