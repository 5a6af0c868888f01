// Pillow's Image.resize(size, BICUBIC) on a mode 'F' image (32-bit float, one
// channel), which DisCo's make_resizer("PIL", False, "bicubic") applies to
// each colour channel of the video metrics' frames: no 8-bit rounding, so
// this is not io/image.h's resize_like_pillow.
#pragma once
#include <ATen/ATen.h>

namespace ma::eval {

// float [H, W, C] -> float [height, width, C], every channel resized alone.
// Pillow's Resample.c for 32-bit float images: Keys' cubic (a = -0.5,
// support 2) stretched by the downscale factor, weights normalised in double,
// horizontal pass then vertical, each accumulated in double and stored as
// float; a pass whose size is unchanged is skipped.
at::Tensor resize_float_like_pil(const at::Tensor& hwc, int64_t width, int64_t height);

}  // namespace ma::eval
