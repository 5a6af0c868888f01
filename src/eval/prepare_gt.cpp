#include "eval/prepare_gt.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "eval/frame_set.h"
#include "media/image.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma::eval {

at::Tensor disco_gt_frame(const at::Tensor& rgb, int64_t size) {
  if (rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != at::kByte)
    throw Error("expected an RGB8 [H, W, 3] frame");
  const int64_t h = rgb.size(0), w = rgb.size(1), side = std::min(h, w);
  const at::Tensor square = rgb.narrow(0, (h - side) / 2, side).narrow(1, (w - side) / 2, side).contiguous();
  return resize_like_pillow(square, size, size, PillowFilter::Bilinear);
}

PreparedSet prepare_ground_truth(const std::string& tiktok_dir, const std::string& out_dir, int64_t size) {
  std::error_code ec;
  if (!fs::is_directory(tiktok_dir, ec)) throw Error("--prepare-gt '" + tiktok_dir + "' is not a folder");
  std::vector<fs::path> videos;
  for (fs::directory_iterator it(tiktok_dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory()) videos.push_back(it->path());
  if (ec) throw Error("cannot list '" + tiktok_dir + "': " + ec.message());
  std::sort(videos.begin(), videos.end());
  PreparedSet done;
  for (const fs::path& v : videos) {
    const fs::path frames_dir = fs::is_directory(v / "images", ec) ? v / "images" : v;
    FrameSet set;
    try {
      set = list_frame_set(frames_dir.string(), "--prepare-gt");
    } catch (const Error&) {
      continue;  // a folder without frames (masks/, densepose/ siblings are not videos)
    }
    if (set.videos.size() != 1 || set.videos[0].is_file || !set.videos[0].name.empty()) continue;
    const VideoEntry& entry = set.videos[0];
    const fs::path target = fs::path(out_dir) / v.filename();
    fs::create_directories(target, ec);
    if (ec) throw Error("cannot create '" + target.string() + "': " + ec.message());
    for (size_t i = 0; i < entry.frame_files.size(); ++i)
      write_png((target / (entry.frame_names[i] + ".png")).string(),
                disco_gt_frame(read_image_rgb(entry.frame_files[i]), size));
    ++done.videos;
    done.frames += static_cast<int64_t>(entry.frame_files.size());
  }
  if (done.videos == 0) throw Error("--prepare-gt '" + tiktok_dir + "' has no video folders with image frames");
  return done;
}

}  // namespace ma::eval
