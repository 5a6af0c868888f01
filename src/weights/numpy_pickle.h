// Reader for plain pickles of numpy arrays: detectron2's model-zoo .pkl files,
// {"model": {name: numpy.ndarray}, "__author__": ..., ...}. The same
// restricted unpickler as torch.save files (weights/torch_pickle.h) interprets
// them: it executes nothing, copies each array's raw bytes into a tensor of
// its declared dtype and shape, and refuses every other global by name.
#pragma once
#include <string>

#include "weights/tensor_map.h"

namespace ma {

// Every array of the pickle, nested dicts dot-joined. When the top level has
// a "model" dict (the zoo layout), only its arrays are returned, without the
// "model." prefix. Errors: ma::Error naming `name` and the problem.
TensorMap parse_numpy_pickle(const char* data, size_t size, const std::string& name = "<memory>");

// Reads and parses a .pkl file.
TensorMap load_numpy_pickle(const std::string& path);

}  // namespace ma
