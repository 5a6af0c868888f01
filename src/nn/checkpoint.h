// Activation checkpointing (gradient checkpointing) for libtorch C++, which
// has no torch.utils.checkpoint: a custom autograd function that runs `fn`
// without building a graph, keeps only its inputs, and in the backward pass
// runs `fn` again with grad enabled and backpropagates through that copy
// (PyTorch's reentrant checkpoint). Parameters used inside `fn` are leaves:
// their .grad accumulates during that inner backward, as in PyTorch.
//
// Rules for `fn` (the UNet blocks meet them, see models/block_checkpoint.h):
//  - every tensor it reads that needs a gradient is one of `inputs` (a
//    captured non-leaf tensor would be backpropagated once per block and
//    then freed: the second block would fail);
//  - it is deterministic (no dropout or other RNG: the models here have none,
//    so no RNG state is saved and restored);
//  - it returns defined tensors, the same number every time it runs;
//  - it does not modify its inputs in place.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace ma::nn {

using CheckpointFn = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& inputs)>;

// fn(inputs), its activations recomputed in backward. `needs_graph`: the
// body holds parameters that require grad, so the outputs must carry a graph
// even when no input requires grad (an internal anchor input sees to that).
// Without grad mode, or when neither the inputs nor the body need a graph,
// it simply calls fn.
std::vector<at::Tensor> checkpoint(const CheckpointFn& fn, const std::vector<at::Tensor>& inputs,
                                   bool needs_graph = false);

}  // namespace ma::nn
