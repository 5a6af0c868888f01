#include "weights/numpy_pickle.h"

#include <fstream>

#include "weights/torch_pickle.h"
#include "util/error.h"

namespace ma {

TensorMap parse_numpy_pickle(const char* data, size_t size, const std::string& name) {
  if (size < 2 || static_cast<unsigned char>(data[0]) != 0x80)
    throw Error(name + ": not a pickle (a detectron2 .pkl starts with the PROTO opcode)");
  // A plain pickle holds its arrays inline; a persistent id (torch storage) has no place here.
  StorageRecordReader no_records = [](const std::string& key, uint64_t) -> at::Tensor {
    throw Error("plain pickle refers to external storage '" + key + "' (a torch.save file, not a .pkl)");
  };
  TensorMap all;
  try {
    all = parse_pickle_state_dict(data, size, no_records);
  } catch (const Error& e) {
    throw Error(name + ": " + e.what());
  }
  const std::string prefix = "model.";
  TensorMap model;
  for (auto& [key, t] : all)
    if (key.compare(0, prefix.size(), prefix) == 0) model.emplace(key.substr(prefix.size()), std::move(t));
  return model.empty() ? all : model;
}

TensorMap load_numpy_pickle(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path + ": cannot open");
  const std::streamoff size = in.tellg();
  std::string bytes(static_cast<size_t>(size < 0 ? 0 : size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) throw Error(path + ": cannot read");
  return parse_numpy_pickle(bytes.data(), bytes.size(), path);
}

}  // namespace ma
