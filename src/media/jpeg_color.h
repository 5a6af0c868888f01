// The output stage of libjpeg(-turbo)'s decoder, which Pillow uses for JPEG:
// "fancy" (triangle-filter) chroma upsampling and fixed-point YCbCr -> RGB.
// FFmpeg's MJPEG decoder (with the libjpeg-compatible integer IDCT) yields
// the same planes libjpeg holds before this stage; applying libjpeg's exact
// arithmetic here makes JPEG sources match Pillow value for value.
#pragma once
#include <cstdint>

extern "C" {
#include <libavutil/frame.h>
}

namespace ma::av {

// Converts a full-range planar YCbCr frame to packed RGB8 (width*height*3
// bytes at `rgb`). Returns false for chroma layouts libjpeg has no fast
// path for (the caller then uses swscale).
bool jpeg_ycc_to_rgb(const AVFrame& frame, uint8_t* rgb);

}  // namespace ma::av
