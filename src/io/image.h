// Still images as RGB8 tensors: uint8 [H, W, 3] (HWC, like the numpy arrays
// the original pipeline works on).
#pragma once
#include <ATen/ATen.h>
#include <string>

namespace ma {

// Decodes PNG / JPEG / WebP / BMP (FFmpeg's decoders) to RGB8; alpha dropped
// the way Pillow's convert("RGB") does. Throws ma::Error naming the file.
at::Tensor read_image_rgb(const std::string& path);

// Decodes an image held in memory (uploads); `name` is used in errors.
at::Tensor decode_image_rgb(const std::string& bytes, const std::string& name);

// Pillow's Image.resize((width, height)) with its default filter (BICUBIC,
// antialiased, 8-bit fixed-point arithmetic): the original resizes the source
// image and every control frame this way, so we match it value for value.
at::Tensor resize_like_pillow(const at::Tensor& rgb, int64_t width, int64_t height);

// Writes an RGB8 [H, W, 3] tensor as PNG (via a temporary file, renamed when complete).
void write_png(const std::string& path, const at::Tensor& rgb);

}  // namespace ma
