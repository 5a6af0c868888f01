// One entry point for every weight file format the released checkpoints use:
// .safetensors (memory-mapped) and torch.save zip pickles (.bin/.ckpt/.pt/.pth),
// read by a restricted unpickler that never executes anything.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "weights/tensor_map.h"

namespace ma {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

// Loads every tensor of a weight file, converted to opt.dtype (floating
// tensors only) and opt.device. For pickles, a top-level {"state_dict": ...}
// is unwrapped and "module." / "unet." key prefixes are stripped, as the
// original's loader does. Errors: ma::Error naming the file and the problem.
TensorMap load_weights(const std::string& path, const DeviceDtype& opt = {});

// Same keys as load_weights, but every tensor keeps the dtype it has in the
// file and stays on the CPU (for inspection tools).
TensorMap load_weights_as_stored(const std::string& path);

// Key -> shape of a weight file without converting (safetensors: header only).
ShapeMap read_weight_shapes(const std::string& path);

// True when the path's extension is one load_weights understands.
bool is_weight_file(const std::string& path);

}  // namespace ma
