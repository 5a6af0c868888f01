// `check-models`: verifies a model folder part by part — every expected key
// present with the right shape, nothing unexpected, every tensor finite —
// reporting each problem by name.
#pragma once
#include <string>
#include <vector>

#include "weights/model_paths.h"

namespace ma {

struct PartCheck {
  std::string part;                   // "text_encoder", "unet3d", ...
  std::string files;                  // what was read
  std::vector<std::string> problems;  // one line each; empty = pass
  int64_t tensors = 0, parameters = 0;
};

// Checks every part; `values` also scans each tensor for NaN/Inf.
std::vector<PartCheck> check_model_parts(const ModelPaths& paths, bool values = true);

}  // namespace ma
