// Weight initialisation for module trees built without a checkpoint (the
// benchmark's full-size models, tests, a trainer's fresh layers).
#pragma once
#include <cstdint>

#include "weights/tensor_map.h"
#include "nn/module.h"

namespace ma::nn {

// Random values for every parameter/buffer of `m`, in opt's dtype and device,
// deterministic per seed: matrices and kernels N(0, 0.02^2) (the usual init
// scale), 1-D weights (norm scales) 1 + N(0, 0.02^2), biases and other
// vectors N(0, 0.02^2); integer buffers (CLIP position_ids) 0, 1, 2, ...
// (Stretches of one pool of at most 16 M normal draws, for speed.)
TensorMap random_state(const Module& m, const DeviceDtype& opt, uint64_t seed);

// Weights to train from scratch: what PyTorch's layer constructors draw
// (nn.Conv2d / nn.Linear reset_parameters: weight and bias U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), fan_in = input channels x kernel area), norm scales 1 and
// norm shifts 0, deterministic per seed. Buffers as in random_state. (The
// N(0, 0.02^2) of random_state is too small for a deep network to train from.)
TensorMap fresh_state(const Module& m, const DeviceDtype& opt, uint64_t seed);

// Puts random_state(m, opt, seed) straight into m's slots (no load checks).
void randomize(Module& m, const DeviceDtype& opt, uint64_t seed);

}  // namespace ma::nn
