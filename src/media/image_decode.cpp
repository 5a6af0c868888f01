// read_image_rgb / decode_image_rgb: the whole file goes to the matching
// FFmpeg decoder as one packet (no demuxer needed for still images).
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "media/frame_to_rgb.h"
#include "media/image.h"
#include "media/libav_util.h"
#include "util/error.h"

namespace ma {
namespace {

// Files beyond this are not images we could use anyway (an 8192^2 RGBA PNG
// stored uncompressed is 256 MiB).
constexpr std::uintmax_t kMaxImageFileBytes = 512ull << 20;

bool starts_with(const std::string& s, const char* magic, size_t n, size_t at = 0) {
  return s.size() >= at + n && std::memcmp(s.data() + at, magic, n) == 0;
}

// Recognises the container by its signature bytes, as Pillow does, rather
// than by the file name.
AVCodecID sniff_codec(const std::string& b) {
  if (starts_with(b, "\x89PNG\r\n\x1a\n", 8)) return AV_CODEC_ID_PNG;
  if (starts_with(b, "\xff\xd8\xff", 3)) return AV_CODEC_ID_MJPEG;
  if (starts_with(b, "RIFF", 4) && starts_with(b, "WEBP", 4, 8)) return AV_CODEC_ID_WEBP;
  if (starts_with(b, "BM", 2)) return AV_CODEC_ID_BMP;
  if (starts_with(b, "GIF87a", 6) || starts_with(b, "GIF89a", 6)) return AV_CODEC_ID_GIF;
  if (starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4)) return AV_CODEC_ID_TIFF;
  return AV_CODEC_ID_NONE;
}

[[noreturn]] void fail(const std::string& name, const std::string& why) {
  throw Error("cannot decode image '" + name + "': " + why);
}

av::FramePtr decode_one_frame(const std::string& bytes, AVCodecID id, const std::string& name) {
  const AVCodec* codec = avcodec_find_decoder(id);
  if (!codec) fail(name, std::string("FFmpeg was built without the ") + avcodec_get_name(id) + " decoder");
  av::CodecPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw std::bad_alloc();
  // A header may claim any size; the decoder refuses to allocate past this.
  ctx->max_pixels = static_cast<int64_t>(av::kMaxSide) * av::kMaxSide;
  ctx->thread_count = 1;
  AVDictionary* opts = nullptr;
  // libjpeg's "islow" integer IDCT (FFmpeg's jrevdct), so JPEG pixels come
  // out as Pillow's libjpeg decodes them.
  if (id == AV_CODEC_ID_MJPEG) av_dict_set(&opts, "idct", "int", 0);
  int ret = avcodec_open2(ctx.get(), codec, &opts);
  av_dict_free(&opts);
  if (ret < 0) fail(name, "cannot open decoder: " + av::error_text(ret));

  if (bytes.size() > static_cast<size_t>(INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)) fail(name, "file too large");
  av::PacketPtr pkt = av::make_packet();
  if (av_new_packet(pkt.get(), static_cast<int>(bytes.size())) < 0) throw std::bad_alloc();
  std::memcpy(pkt->data, bytes.data(), bytes.size());

  ret = avcodec_send_packet(ctx.get(), pkt.get());
  if (ret < 0) fail(name, av::error_text(ret));
  avcodec_send_packet(ctx.get(), nullptr);  // no more data: lets the decoder emit its frame
  av::FramePtr frame = av::make_frame();
  ret = avcodec_receive_frame(ctx.get(), frame.get());
  if (ret == AVERROR_EOF || ret == AVERROR(EAGAIN)) fail(name, "no image in the data");
  if (ret < 0) fail(name, av::error_text(ret));
  return frame;
}

}  // namespace

at::Tensor decode_image_rgb(const std::string& bytes, const std::string& name) {
  av::quiet_logging();
  if (bytes.empty()) fail(name, "empty file");
  AVCodecID id = sniff_codec(bytes);
  if (id == AV_CODEC_ID_NONE) fail(name, "not a PNG, JPEG, WebP, BMP, GIF or TIFF file");
  av::FramePtr frame = decode_one_frame(bytes, id, name);
  if (frame->width <= 0 || frame->height <= 0 || frame->width > av::kMaxSide || frame->height > av::kMaxSide) {
    fail(name, "unsupported size " + std::to_string(frame->width) + "x" + std::to_string(frame->height) +
                   " (at most " + std::to_string(av::kMaxSide) + " per side)");
  }
  try {
    return av::still_frame_to_rgb(*frame, id);
  } catch (const Error& e) {
    fail(name, e.what());
  }
}

at::Tensor read_image_rgb(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    fail(path, fs::exists(path, ec) ? "not a regular file" : "no such file");
  }
  std::uintmax_t size = fs::file_size(path, ec);
  if (ec) fail(path, ec.message());
  if (size > kMaxImageFileBytes) fail(path, "file larger than 512 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  std::string bytes(static_cast<size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) fail(path, "read error");
  return decode_image_rgb(bytes, path);
}

}  // namespace ma
