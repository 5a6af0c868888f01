// The frames `magicanimate eval` compares, and how predictions pair with the
// ground truth. A PATH is one of
//  * a folder of image frames (.png .jpg .jpeg .webp .bmp .tif .tiff, top
//    level only, as DisCo's glob) - one set, frames named by file stem;
//  * a video file (anything FFmpeg reads; .gif counts as a video here) -
//    frames named by their index;
//  * a folder of those (video files and/or frame sub-folders), one per
//    video, matched across PATHs by name (file stem / folder name).
// Frames pair by sorted name within a video, as DisCo pairs sorted basenames
// (stems here, so .jpg predictions pair with .png ground truth); where either
// side is a video file they pair by position.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace ma::eval {

struct VideoEntry {
  std::string name;                      // "" for a PATH that is itself one video
  std::string path;                      // the frame folder or video file
  bool is_file = false;                  // a video file (frames known after decoding)
  std::vector<std::string> frame_files;  // frame folders: sorted full paths
  std::vector<std::string> frame_names;  // frame folders: their stems, same order
};

struct FrameSet {
  std::string path;
  std::vector<VideoEntry> videos;  // sorted by name
};

// Lists a PATH. `role` ("--pred") starts error lines. Nothing is decoded.
FrameSet list_frame_set(const std::string& path, const std::string& role);

// One video of each set. mask may be null.
struct VideoPair {
  const VideoEntry* pred = nullptr;
  const VideoEntry* gt = nullptr;
  const VideoEntry* mask = nullptr;
};

// Matches videos by name (two single-video PATHs match whatever their names)
// and, where both are frame folders, checks the frame names. Mismatches are
// one ma::Error naming the first unmatched pair in sorted order.
std::vector<VideoPair> pair_frame_sets(const FrameSet& pred, const FrameSet& gt, const FrameSet* mask);

// Yields one video's frames (RGB8 [H, W, 3]) in pairing order: frame folders
// one file at a time, video files decoded once on first use.
class FrameReader {
 public:
  explicit FrameReader(const VideoEntry& video);
  int64_t size();  // decodes a video file
  at::Tensor frame(int64_t i);
  std::string frame_name(int64_t i);  // "<video>/<frame>" or "<frame>"

 private:
  const VideoEntry& video_;
  at::Tensor decoded_;  // video files only
};

}  // namespace ma::eval
