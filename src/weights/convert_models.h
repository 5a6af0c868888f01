// `magicanimate convert`: a models folder copied with its weights stored in
// another dtype (fp16 halves a release folder; the engine converts on load,
// so the copy runs with any --dtype). Symlinks are followed (a training
// checkpoint's linked parts become real files) and trainer_state/ is left
// out, so the copy is a self-contained folder in the release layout.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>

namespace ma {

struct ConvertReport {
  int64_t weight_files = 0, other_files = 0, bytes_in = 0, bytes_out = 0;
};

// Writes `out` (which must not exist) from `in`: every weight file
// (.safetensors, and torch pickles .bin/.ckpt/.pt/.pth, rewritten in the same
// format) with its floating tensors in `dtype`, every other file copied. The
// folder is built as OUT.partial and renamed when complete. `on_file` gets
// each relative path as it is written.
ConvertReport convert_models_folder(const std::string& in, const std::string& out, at::ScalarType dtype,
                                    const std::function<void(const std::string&)>& on_file = {});

}  // namespace ma
