// Motion videos in, result videos out, through FFmpeg's libraries.
// Frames are RGB8 tensors uint8 [F, H, W, 3].
#pragma once
#include <ATen/ATen.h>
#include <memory>
#include <string>
#include <vector>

namespace ma {

struct DecodedVideo {
  at::Tensor frames;  // uint8 [F, H, W, 3]
  double fps = 25.0;  // frame folders report 25 fps, the original's output rate
};

// Reads MP4 / WebM / GIF / any FFmpeg-readable video, or a directory of
// numbered image frames. Frames [offset, offset+max_frames) are kept
// (max_frames < 0: all).
// Files: pixels exactly as the original's VideoReader (PyAV frame.to_rgb():
// swscale, SWS_BILINEAR, default BT.601) gives them, first video stream,
// frames timed before 0 dropped as it does; fps from avg_frame_rate, else
// r_frame_rate, else 25. Truncated files yield the frames that decode.
// Folders: image files (.png .jpg .jpeg .webp .bmp .gif .tif .tiff; other
// files ignored) in natural order ("2" before "10"), decoded like
// read_image_rgb, all the same size; fps 25.
// Zero frames, unreadable or missing input, frames over 8192 pixels per side
// or more than 4 GiB of decoded frames: ma::Error naming the file.
DecodedVideo read_video(const std::string& path, int64_t max_frames = -1, int64_t offset = 0);

// Encodes H.264 MP4 with libx264 (yuv420p, CRF 18, BT.601 limited range,
// index first for browsers). fps may be fractional (kept as a rational).
// Odd widths/heights are padded to even by repeating the last column/row,
// so such a file decodes one pixel larger. Written to "<path>.partial" and
// renamed on finish(); destroyed unfinished (or on a failed finish), it
// removes the partial file. Errors: ma::Error naming the path.
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
// Result: [H + 2p, n * (W + p) + p, 3]. Like make_grid, a single image comes
// back unpadded. (The original uses nrow=6, so up to 6 images form one row.)
at::Tensor make_grid_row(const std::vector<at::Tensor>& images, int64_t padding = 2);

}  // namespace ma
