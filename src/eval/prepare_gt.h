// `magicanimate eval --prepare-gt TIKTOK_DIR --out GT_DIR`: ground-truth
// frames as DisCo's TikTok val split makes them, so predictions can be
// scored against the same pixels the published numbers used.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace ma::eval {

// torchvision RandomResizedCrop(size, scale=(1, 1), ratio=(1, 1), BILINEAR)
// on a PIL frame, which for these arguments is deterministic: the centre
// square of side min(H, W) (offsets (H - s) // 2, (W - s) // 2), then
// Pillow's antialiased bilinear resize to size x size.
at::Tensor disco_gt_frame(const at::Tensor& rgb, int64_t size = 256);

struct PreparedSet {
  int64_t videos = 0, frames = 0;
};

// Every folder under `tiktok_dir` (the TikTok dataset's <video>/images/*.png,
// or frames directly in <video>/) becomes out_dir/<video>/<frame stem>.png.
// Frames are written one by one, each atomically. Errors: ma::Error naming
// the file.
PreparedSet prepare_ground_truth(const std::string& tiktok_dir, const std::string& out_dir, int64_t size = 256);

}  // namespace ma::eval
