// Motion videos in, result videos out, through FFmpeg's libraries.
// Frames are RGB8 tensors uint8 [F, H, W, 3].
#pragma once
#include <ATen/ATen.h>
#include <string>
#include <vector>

namespace ma {

struct DecodedVideo {
  at::Tensor frames;  // uint8 [F, H, W, 3]
  double fps = 25.0;  // frame folders report 25 fps, the original's output rate
};

// Reads MP4 / WebM / GIF / any FFmpeg-readable video, or a directory of
// numbered image frames (sorted by name). Frames [offset, offset+max_frames)
// are kept (max_frames < 0: all). Zero frames, unreadable or missing input:
// ma::Error naming the file.
DecodedVideo read_video(const std::string& path, int64_t max_frames = -1, int64_t offset = 0);

// Encodes H.264 (yuv420p, browser-playable) MP4. Written to "<path>.partial"
// and renamed on finish(); destroyed unfinished, it removes the partial file.
class VideoWriter {
 public:
  VideoWriter(const std::string& path, int64_t width, int64_t height, double fps);
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;
  void write(const at::Tensor& rgb_frame);  // uint8 [H, W, 3]
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: encodes all frames [F, H, W, 3] at `fps`.
void write_video(const std::string& path, const at::Tensor& frames, double fps);

// torchvision.utils.make_grid for one row of equally sized RGB8 images
// (each [H, W, 3]): 2-pixel black padding around and between them, as the
// original's save_videos_grid writes its source | control | result grid.
at::Tensor make_grid_row(const std::vector<at::Tensor>& images, int64_t padding = 2);

}  // namespace ma
