#include "media/frame_to_rgb.h"

#include <cstring>

#include "media/jpeg_color.h"
#include "media/webp_color.h"
#include "util/error.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace ma::av {
namespace {

at::Tensor new_rgb(const AVFrame& f) {
  return at::empty({f.height, f.width, 3}, at::kByte);
}

const uint8_t* row(const AVFrame& f, int plane, int y) {
  return f.data[plane] + static_cast<ptrdiff_t>(y) * f.linesize[plane];
}

// Packed 8-bit formats: picks channels (r, g, b) at byte offsets within a
// pixel of `step` bytes.
at::Tensor pick_bytes(const AVFrame& f, int step, int r, int g, int b) {
  at::Tensor out = new_rgb(f);
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int y = 0; y < f.height; ++y) {
    const uint8_t* in = row(f, 0, y);
    for (int x = 0; x < f.width; ++x, in += step, o += 3) {
      o[0] = in[r];
      o[1] = in[g];
      o[2] = in[b];
    }
  }
  return out;
}

uint16_t read16(const uint8_t* p, bool big_endian) {
  return big_endian ? static_cast<uint16_t>(p[0] << 8 | p[1]) : static_cast<uint16_t>(p[1] << 8 | p[0]);
}

// Pillow's PNG plugin unpacks 16-bit colour ("RGB;16B", "RGBA;16B",
// "LA;16B") by keeping the high byte of each sample.
at::Tensor high_bytes(const AVFrame& f, int samples_per_pixel, bool big_endian, bool grey) {
  at::Tensor out = new_rgb(f);
  uint8_t* o = out.data_ptr<uint8_t>();
  const int step = samples_per_pixel * 2;
  for (int y = 0; y < f.height; ++y) {
    const uint8_t* in = row(f, 0, y);
    for (int x = 0; x < f.width; ++x, in += step, o += 3) {
      for (int c = 0; c < 3; ++c) {
        o[c] = static_cast<uint8_t>(read16(in + (grey ? 0 : 2 * c), big_endian) >> 8);
      }
    }
  }
  return out;
}

// Pillow opens 16-bit grey PNGs as mode "I;16" and its I;16 -> RGB
// conversion clips the value to 255 (it does not scale).
at::Tensor clipped_grey16(const AVFrame& f, bool big_endian) {
  at::Tensor out = new_rgb(f);
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int y = 0; y < f.height; ++y) {
    const uint8_t* in = row(f, 0, y);
    for (int x = 0; x < f.width; ++x, in += 2, o += 3) {
      uint16_t v = read16(in, big_endian);
      o[0] = o[1] = o[2] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  }
  return out;
}

at::Tensor palette_lookup(const AVFrame& f) {
  // FFmpeg keeps the palette as 256 native-endian 0xAARRGGBB words.
  uint32_t pal[256];
  std::memcpy(pal, f.data[1], sizeof pal);
  at::Tensor out = new_rgb(f);
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int y = 0; y < f.height; ++y) {
    const uint8_t* in = row(f, 0, y);
    for (int x = 0; x < f.width; ++x, o += 3) {
      uint32_t c = pal[in[x]];
      o[0] = static_cast<uint8_t>(c >> 16);
      o[1] = static_cast<uint8_t>(c >> 8);
      o[2] = static_cast<uint8_t>(c);
    }
  }
  return out;
}

at::Tensor bilevel(const AVFrame& f, bool one_is_white) {
  at::Tensor out = new_rgb(f);
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int y = 0; y < f.height; ++y) {
    const uint8_t* in = row(f, 0, y);
    for (int x = 0; x < f.width; ++x, o += 3) {
      bool bit = (in[x >> 3] >> (7 - (x & 7))) & 1;
      o[0] = o[1] = o[2] = (bit == one_is_white) ? 255 : 0;
    }
  }
  return out;
}

at::Tensor swscale_to_rgb(const AVFrame& f, SwsPtr& sws) {
  SwsContext* ctx = sws_getCachedContext(sws.release(), f.width, f.height,
                                         static_cast<AVPixelFormat>(f.format), f.width, f.height,
                                         AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
  sws.reset(ctx);
  if (!ctx) {
    const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(f.format));
    throw Error(std::string("cannot convert pixel format ") + (name ? name : "unknown") + " to RGB");
  }
  // swscale's SIMD paths may write whole vector widths, so scale into a
  // padded FFmpeg buffer and copy the rows out.
  FramePtr dst = make_frame();
  dst->format = AV_PIX_FMT_RGB24;
  dst->width = f.width;
  dst->height = f.height;
  if (av_frame_get_buffer(dst.get(), 0) < 0) throw Error("out of memory converting a frame to RGB");
  sws_scale(ctx, f.data, f.linesize, 0, f.height, dst->data, dst->linesize);
  at::Tensor out = new_rgb(f);
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int y = 0; y < f.height; ++y) {
    std::memcpy(o + static_cast<size_t>(y) * f.width * 3, row(*dst, 0, y),
                static_cast<size_t>(f.width) * 3);
  }
  return out;
}

}  // namespace

at::Tensor still_frame_to_rgb(const AVFrame& f, AVCodecID codec) {
  switch (f.format) {
    case AV_PIX_FMT_RGB24: return pick_bytes(f, 3, 0, 1, 2);
    case AV_PIX_FMT_BGR24: return pick_bytes(f, 3, 2, 1, 0);
    case AV_PIX_FMT_RGBA:
    case AV_PIX_FMT_RGB0: return pick_bytes(f, 4, 0, 1, 2);
    case AV_PIX_FMT_BGRA:
    case AV_PIX_FMT_BGR0: return pick_bytes(f, 4, 2, 1, 0);
    case AV_PIX_FMT_ARGB:
    case AV_PIX_FMT_0RGB: return pick_bytes(f, 4, 1, 2, 3);
    case AV_PIX_FMT_ABGR:
    case AV_PIX_FMT_0BGR: return pick_bytes(f, 4, 3, 2, 1);
    case AV_PIX_FMT_GRAY8: return pick_bytes(f, 1, 0, 0, 0);
    case AV_PIX_FMT_YA8: return pick_bytes(f, 2, 0, 0, 0);
    case AV_PIX_FMT_RGB48BE: return high_bytes(f, 3, true, false);
    case AV_PIX_FMT_RGB48LE: return high_bytes(f, 3, false, false);
    case AV_PIX_FMT_RGBA64BE: return high_bytes(f, 4, true, false);
    case AV_PIX_FMT_RGBA64LE: return high_bytes(f, 4, false, false);
    case AV_PIX_FMT_YA16BE: return high_bytes(f, 2, true, true);
    case AV_PIX_FMT_YA16LE: return high_bytes(f, 2, false, true);
    case AV_PIX_FMT_GRAY16BE: return clipped_grey16(f, true);
    case AV_PIX_FMT_GRAY16LE: return clipped_grey16(f, false);
    case AV_PIX_FMT_PAL8: return palette_lookup(f);
    case AV_PIX_FMT_MONOBLACK: return bilevel(f, true);
    case AV_PIX_FMT_MONOWHITE: return bilevel(f, false);
    default: break;
  }
  if (codec == AV_CODEC_ID_MJPEG) {
    at::Tensor out = new_rgb(f);
    if (jpeg_ycc_to_rgb(f, out.data_ptr<uint8_t>())) return out;
  }
  if (codec == AV_CODEC_ID_WEBP) {
    at::Tensor out = new_rgb(f);
    if (webp_yuv_to_rgb(f, out.data_ptr<uint8_t>())) return out;
  }
  SwsPtr sws;
  return swscale_to_rgb(f, sws);
}

at::Tensor VideoRgbConverter::convert(const AVFrame& f) {
  if (f.format == AV_PIX_FMT_RGB24) return pick_bytes(f, 3, 0, 1, 2);
  return swscale_to_rgb(f, sws_);
}

}  // namespace ma::av
