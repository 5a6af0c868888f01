// Writer for torch.save zip archives holding {"<wrap>": {key: tensor}}: what
// the original release's loaders read (MagicAnimate's temporal_attention.ckpt
// is torch.load-ed and its "state_dict" filtered on "motion_modules" keys).
// Pickle protocol 2 with _rebuild_tensor_v2 and one storage record per
// tensor, the subset torch.save itself emits for a state dict.
#pragma once
#include <string>

#include "weights/tensor_map.h"

namespace ma {

// Writes via "<path>.partial", renamed when complete. Float, Half, BFloat16,
// Double and Long tensors (moved to the CPU, made contiguous). Throws ma::Error
// naming the path.
void save_torch_state_dict(const std::string& path, const TensorMap& tensors, const std::string& wrap = "state_dict");

}  // namespace ma
