// Checks an uploaded file before it becomes a job: FFmpeg must open and
// decode it all the way through (a truncated or mislabelled file is caught
// here, not half-way through a job), and it must fit the server's limits.
// Frames are decoded and dropped one by one, so memory stays flat however
// long the video is.
#pragma once
#include <cstdint>
#include <string>

namespace ma::serve {

struct MediaInfo {
  int64_t width = 0, height = 0;
  int64_t frames = 0;
  double fps = 0;      // 0 when the file does not say
  std::string codec;   // FFmpeg's codec name, e.g. "png", "h264"
};

// A still image FFmpeg decodes (PNG, JPEG, WebP, BMP) no larger than
// max_side pixels on either side. `field` names it in errors.
// Throws RequestError: 415 not a decodable image, 413 too large.
MediaInfo probe_image(const std::string& path, const std::string& field, int64_t max_side);

// A video (any FFmpeg-readable container) with 1..max_frames frames, no side
// over max_side. Throws RequestError: 415 unreadable, corrupt or truncated;
// 413 too many frames or too large; 422 no frames.
MediaInfo probe_video(const std::string& path, const std::string& field, int64_t max_side, int64_t max_frames);

}  // namespace ma::serve
