// The image metrics of DisCo's evaluation (Wangt-CN/DisCo tool/metrics at
// ef1e88e, the code MagicAnimate's table came from), as pure functions on
// RGB8 frames (uint8 [H, W, 3]) computed in float64. Each reproduces the
// numpy / OpenCV / scikit-image expression DisCo runs, quirks included,
// so the numbers equal Python's to rounding (tests: 1e-9).
#pragma once
#include <ATen/ATen.h>

namespace ma::eval {

// disco: the paper-era code; fixed: DisCo's April 2024 correction ("PSNR*").
enum class Protocol { Disco, Fixed };

// cv2.resize(img, (width, height)) with INTER_LINEAR on uint8, bit-exact:
// an exact 2x reduction becomes OpenCV's 2x2 area average ((sum+2)>>2);
// otherwise single-precision source coordinates, 11-bit fixed-point weights
// and the rounding of OpenCV's SIMD vertical pass (checked against
// Debian's OpenCV 4.6 on enlargements, reductions and odd row lengths).
at::Tensor resize_like_opencv(const at::Tensor& rgb, int64_t width, int64_t height);

// cv2.cvtColor(BGR2GRAY) on uint8 as OpenCV 4.x computes it (RGB2Gray<uchar>
// with 15-bit coefficients): Y = (9798 R + 19235 G + 3735 B + 16384) >> 15.
// (The 14-bit 4899/9617/1868 of OpenCV 3 differs in ~0.3% of pixels; checked
// against Debian's OpenCV 4.6 on 512x512 random pixels.)
at::Tensor gray_like_opencv(const at::Tensor& rgb);  // uint8 [H, W]

// Optional region: a bool [H, W] tensor (true = counted) or undefined = all.
// L1: mean |pred - gt| over pixels and channels on the 0-255 scale, divided
// by H*W (DisCo's per-pixel normalisation, so ~3e-4 at 256x256).
double l1_disco(const at::Tensor& pred, const at::Tensor& gt, const at::Tensor& mask = {});

// PSNR = 20 log10(255 / sqrt(mse)), 100 when mse == 0. Disco: numpy's uint8
// arithmetic without a cast, so the difference and its square wrap mod 256
// ((0 vs 16) gives mse 0, i.e. 100). Fixed: float64 differences.
double psnr(const at::Tensor& pred, const at::Tensor& gt, Protocol protocol, const at::Tensor& mask = {});

// skimage.metrics.structural_similarity(gray(pred), gray(gt)) with its
// defaults: 7x7 uniform window (scipy reflect borders), K1 0.01, K2 0.03,
// sample covariance (x49/48), data range 255, mean of the map without its
// 3-pixel border (restricted to the mask inside it, when given).
double ssim(const at::Tensor& pred, const at::Tensor& gt, const at::Tensor& mask = {});

// Same, on two float64 [H, W] grey images (the part tests check against
// closed forms).
double ssim_gray(const at::Tensor& x, const at::Tensor& y, const at::Tensor& mask = {});

}  // namespace ma::eval
