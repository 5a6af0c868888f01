// write_png through FFmpeg's PNG encoder (lossless RGB24).
#include <cstring>

#include "util/atomic_file.h"
#include "media/image.h"
#include "media/libav_util.h"
#include "util/error.h"

namespace ma {
namespace {

[[noreturn]] void fail_png(const std::string& path, const std::string& why) {
  throw Error("cannot write PNG '" + path + "': " + why);
}

}  // namespace

void write_png(const std::string& path, const at::Tensor& rgb) {
  auto fail = [&](const std::string& why) { fail_png(path, why); };
  if (rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != at::kByte) {
    fail("expected a uint8 [H, W, 3] tensor, got " + std::string(rgb.scalar_type() == at::kByte ? "" : "non-uint8 ") +
         "shape " + c10::str(rgb.sizes()));
  }
  const int64_t h = rgb.size(0), w = rgb.size(1);
  if (h < 1 || w < 1 || h > av::kMaxSide || w > av::kMaxSide) fail("unsupported size " + c10::str(rgb.sizes()));
  av::quiet_logging();
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (!codec) fail("FFmpeg was built without the PNG encoder");
  av::CodecPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw std::bad_alloc();
  ctx->width = static_cast<int>(w);
  ctx->height = static_cast<int>(h);
  ctx->pix_fmt = AV_PIX_FMT_RGB24;
  ctx->time_base = AVRational{1, 1};
  int ret = avcodec_open2(ctx.get(), codec, nullptr);
  if (ret < 0) fail(av::error_text(ret));

  av::FramePtr frame = av::make_frame();
  frame->format = AV_PIX_FMT_RGB24;
  frame->width = ctx->width;
  frame->height = ctx->height;
  if (av_frame_get_buffer(frame.get(), 0) < 0) throw std::bad_alloc();
  at::Tensor src = rgb.contiguous();
  const uint8_t* in = src.data_ptr<uint8_t>();
  for (int64_t y = 0; y < h; ++y) {
    std::memcpy(frame->data[0] + y * frame->linesize[0], in + y * w * 3, static_cast<size_t>(w) * 3);
  }
  av::PacketPtr pkt = av::make_packet();
  ret = avcodec_send_frame(ctx.get(), frame.get());
  if (ret >= 0) ret = avcodec_send_frame(ctx.get(), nullptr);
  if (ret >= 0) ret = avcodec_receive_packet(ctx.get(), pkt.get());
  if (ret < 0) fail(av::error_text(ret));
  write_file_atomically(path, pkt->data, static_cast<size_t>(pkt->size));
}

}  // namespace ma
