// make_grid_row: torchvision.utils.make_grid(nrow >= n, padding, pad_value=0)
// on uint8 images.
#include "media/video.h"
#include "util/error.h"

namespace ma {

at::Tensor make_grid_row(const std::vector<at::Tensor>& images, int64_t padding) {
  if (images.empty()) throw Error("make_grid_row: no images");
  if (padding < 0) throw Error("make_grid_row: negative padding " + std::to_string(padding));
  const at::Tensor& first = images.front();
  if (first.dim() != 3 || first.scalar_type() != at::kByte) {
    throw Error("make_grid_row: expected uint8 [H, W, C] images, got " + c10::str(first.sizes()));
  }
  for (const at::Tensor& im : images) {
    if (im.sizes() != first.sizes() || im.scalar_type() != at::kByte) {
      throw Error("make_grid_row: image sizes differ: " + c10::str(first.sizes()) + " vs " + c10::str(im.sizes()));
    }
  }
  // make_grid returns a lone image as it is, without any padding.
  if (images.size() == 1) return first.clone();
  const int64_t n = static_cast<int64_t>(images.size());
  const int64_t h = first.size(0), w = first.size(1);
  // Each cell is (h + p) x (w + p); one extra p closes the bottom/right edge.
  at::Tensor grid = at::zeros({h + 2 * padding, n * (w + padding) + padding, first.size(2)}, at::kByte);
  for (int64_t i = 0; i < n; ++i) {
    grid.narrow(0, padding, h).narrow(1, i * (w + padding) + padding, w).copy_(images[i]);
  }
  return grid;
}

}  // namespace ma
