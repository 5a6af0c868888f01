// The output stage of libwebp's lossy decoder, which Pillow uses for WebP:
// "fancy" chroma upsampling and 14-bit fixed-point BT.601 YUV -> RGB. FFmpeg
// decodes the VP8 planes bit-exactly (VP8 is specified to the bit); this
// stage makes the RGB match Pillow's as well.
#pragma once
#include <cstdint>

extern "C" {
#include <libavutil/frame.h>
}

namespace ma::av {

// Converts a yuv420p / yuva420p frame to packed RGB8 (width*height*3 bytes
// at `rgb`); alpha is ignored. Returns false for any other format.
bool webp_yuv_to_rgb(const AVFrame& frame, uint8_t* rgb);

}  // namespace ma::av
