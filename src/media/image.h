// Still images as RGB8 tensors: uint8 [H, W, 3] (HWC, like the numpy arrays
// the original pipeline works on).
#pragma once
#include <ATen/ATen.h>
#include <string>

namespace ma {

// Decodes PNG / JPEG / WebP / BMP / GIF (first frame) / TIFF with FFmpeg's
// decoders to what np.array(Image.open(path).convert("RGB")) gives: alpha
// dropped without compositing, palettes looked up, 16-bit PNGs reduced as
// Pillow does (colour: high byte; grey: clipped at 255). PNG, WebP, GIF, BMP
// and TIFF match Pillow exactly; JPEG is within 3 levels (FFmpeg's integer
// IDCT rounds differently from libjpeg's in ~2% of samples). EXIF
// orientation is ignored, as Image.open does. The format is recognised by
// content, not name. Images over 8192 pixels per side are refused.
// Throws ma::Error "cannot decode image '<path>': <why>".
at::Tensor read_image_rgb(const std::string& path);

// Decodes an image held in memory (uploads); `name` is used in errors.
at::Tensor decode_image_rgb(const std::string& bytes, const std::string& name);

// Pillow's Image.resize((width, height)) with its default filter (BICUBIC,
// antialiased, 8-bit fixed-point arithmetic): the original resizes the source
// image and every control frame this way, so we match it value for value.
// Bilinear is what detectron2's ResizeShortestEdge uses on uint8 frames.
// BILINEAR (the same scheme with a triangle filter) is how DisCo's dataset
// scales its ground-truth frames (torchvision RandomResizedCrop on PIL images).
enum class PillowFilter { Bicubic, Bilinear };
at::Tensor resize_like_pillow(const at::Tensor& rgb, int64_t width, int64_t height,
                              PillowFilter filter = PillowFilter::Bicubic);

// Writes an RGB8 [H, W, 3] tensor as PNG (via "<path>.partial", renamed
// when complete).
void write_png(const std::string& path, const at::Tensor& rgb);

}  // namespace ma
