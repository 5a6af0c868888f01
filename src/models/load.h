// Loading weights into a module tree: a lookup by checkpoint key, with every
// missing, unexpected or mis-shaped key reported by name in one error.
#pragma once
#include "weights/tensor_map.h"
#include "nn/module.h"

namespace ma {

void load_module(nn::Module& module, const TensorMap& weights, const DeviceDtype& options, const std::string& what);
void load_module_file(nn::Module& module, const std::string& path, const DeviceDtype& options);

}  // namespace ma
