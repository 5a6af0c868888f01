// Training data: videos of people with their DensePose renders, frame for
// frame. Two layouts are accepted under the --data folder:
//   TikTok:  <video>/images/<frame>  +  <video>/densepose/<frame>   (masks/ ignored)
//   Pairs:   videos/<name>  +  densepose/<name>   (each an MP4/WebM/GIF, or a
//            folder of numbered frames, as `animate --motion` takes)
// The whole dataset is checked by scan() before training starts, so nothing
// fails halfway through a run.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace ma::data {

struct Clip {
  std::string name;    // the video's folder or file name
  std::string frames;  // folder of frames or a video file
  std::string poses;   // the same for the DensePose renders
  int64_t length = 0;  // frames (equal in both)
  int64_t width = 0, height = 0;  // frame size (equal in both)
};

struct ScanOptions {
  bool skip_bad = false;                                 // skip broken clips instead of failing
  std::function<void(const std::string&)> warn;          // one line per skipped clip
  std::vector<std::string> only;                         // scan only the clips of these names (empty: all)
};

// A crop window in relative terms, shared by a sample's frames, poses and
// reference: `scale` (0, 1] of the largest window of the training aspect that
// fits the frame, placed at fraction (x, y) of the free room. {1, .5, .5} is
// the centre crop.
struct Crop {
  double scale = 1.0, x = 0.5, y = 0.5;
};

class Dataset {
 public:
  // Finds every clip and decodes every frame once. A clip without its pose
  // video, unequal frame counts or sizes, an unreadable or empty file: one
  // ma::Error naming it (or, with skip_bad, a warning and the clip left out).
  // No clip at all is an error either way.
  static Dataset scan(const std::string& root, const ScanOptions& options = {});

  size_t size() const { return clips_.size(); }
  const Clip& clip(size_t i) const { return clips_[i]; }
  const std::vector<Clip>& clips() const { return clips_; }

  // Frames `index` of clip `c` (images and poses), cropped by `crop` to the
  // aspect width:height and resized to it as inference resizes (Pillow
  // bicubic). uint8 [n, height, width, 3] each.
  struct Frames {
    at::Tensor images, poses;
  };
  Frames load(size_t c, const std::vector<int64_t>& index, int64_t width, int64_t height, const Crop& crop) const;

 private:
  std::vector<Clip> clips_;
};

// The crop of one RGB8 frame [H, W, 3] for the output size (the shared
// geometry of load()); exposed for the tests.
at::Tensor crop_and_resize(const at::Tensor& rgb, int64_t width, int64_t height, const Crop& crop);

}  // namespace ma::data
