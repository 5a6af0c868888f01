// Decoded FFmpeg frames -> RGB8 tensors uint8 [H, W, 3], in the two ways the
// original pipeline gets its pixels.
#pragma once
#include <ATen/ATen.h>

#include "media/libav_util.h"

namespace ma::av {

// A still image as Pillow's Image.open(...).convert("RGB") sees it: alpha
// dropped (no compositing), palettes looked up, 16-bit samples reduced the
// way Pillow's PNG plugin does (high byte for colour, clipped to 255 for
// 16-bit grey), JPEG YCbCr through libjpeg's arithmetic and lossy WebP
// YUV through libwebp's. `codec` tells those planes apart from other YUV.
// Formats Pillow has no special rule for go through swscale.
at::Tensor still_frame_to_rgb(const AVFrame& frame, AVCodecID codec);

// A video frame as PyAV's VideoFrame.to_rgb() (the original's VideoReader)
// produces it: RGB24 passes through, anything else goes through swscale with
// SWS_BILINEAR and swscale's default (BT.601) coefficients. Keeps one cached
// swscale context for a whole video.
class VideoRgbConverter {
 public:
  at::Tensor convert(const AVFrame& frame);

 private:
  SwsPtr sws_;
};

}  // namespace ma::av
