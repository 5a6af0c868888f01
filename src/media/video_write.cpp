// VideoWriter / write_video: H.264 (libx264, yuv420p, CRF 18) in MP4 with the
// index up front (+faststart) so browsers can play it while it downloads.
#include <cmath>
#include <cstring>
#include <filesystem>

#include "util/atomic_file.h"
#include "media/libav_util.h"
#include "media/video.h"
#include "util/error.h"

extern "C" {
#include <libavutil/opt.h>
}

namespace ma {
namespace {

struct OutputDeleter {
  void operator()(AVFormatContext* c) const {
    if (c->pb && !(c->oformat->flags & AVFMT_NOFILE)) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
using OutputPtr = std::unique_ptr<AVFormatContext, OutputDeleter>;

// yuv420p stores one chroma sample per 2x2 block, so libx264 needs even
// sizes; odd ones get their last row / column repeated.
int even(int64_t v) { return static_cast<int>(v + (v & 1)); }

}  // namespace

struct VideoWriter::Impl {
  std::string path, partial;
  int width = 0, height = 0;          // frames we accept
  int enc_width = 0, enc_height = 0;  // frames we encode (even)
  OutputPtr out;
  av::CodecPtr enc;
  AVStream* stream = nullptr;
  av::SwsPtr sws;
  av::FramePtr rgb, yuv;
  av::PacketPtr pkt;
  int64_t next_pts = 0;
  bool finished = false;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error("cannot write video '" + path + "': " + why);
  }
  void check(int ret, const char* what) const {
    if (ret < 0) fail(std::string(what) + ": " + av::error_text(ret));
  }

  void open(double fps);
  void encode(const AVFrame* frame);
  void close_and_remove_partial();
};

void VideoWriter::Impl::open(double fps) {
  av::quiet_logging();
  // Fractional rates (12.5, 29.97) stay exact as a rational time base.
  const AVRational rate = av_d2q(fps, 100000);
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) fail("this FFmpeg has no libx264 encoder");

  AVFormatContext* raw = nullptr;
  // The container is named explicitly: the ".partial" suffix says nothing.
  check(avformat_alloc_output_context2(&raw, nullptr, "mp4", partial.c_str()), "cannot set up MP4 output");
  out.reset(raw);

  enc.reset(avcodec_alloc_context3(codec));
  if (!enc) throw std::bad_alloc();
  enc->width = enc_width;
  enc->height = enc_height;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->time_base = av_inv_q(rate);
  enc->framerate = rate;
  // swscale's default RGB -> YUV matrix is BT.601 limited range; say so,
  // so players convert back with the same matrix.
  enc->color_range = AVCOL_RANGE_MPEG;
  enc->colorspace = AVCOL_SPC_SMPTE170M;
  enc->color_primaries = AVCOL_PRI_SMPTE170M;
  enc->color_trc = AVCOL_TRC_SMPTE170M;
  enc->thread_count = 0;  // x264 picks its thread count
  if (out->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "crf", "18", 0);
  av_dict_set(&opts, "preset", "medium", 0);
  int ret = avcodec_open2(enc.get(), codec, &opts);
  av_dict_free(&opts);
  check(ret, "cannot open libx264");

  stream = avformat_new_stream(out.get(), nullptr);
  if (!stream) throw std::bad_alloc();
  check(avcodec_parameters_from_context(stream->codecpar, enc.get()), "cannot describe the stream");
  stream->time_base = enc->time_base;
  stream->avg_frame_rate = rate;

  check(avio_open(&out->pb, partial.c_str(), AVIO_FLAG_WRITE), "cannot create file");
  AVDictionary* mux_opts = nullptr;
  av_dict_set(&mux_opts, "movflags", "+faststart", 0);
  ret = avformat_write_header(out.get(), &mux_opts);
  av_dict_free(&mux_opts);
  check(ret, "cannot write MP4 header");

  sws.reset(sws_getContext(enc_width, enc_height, AV_PIX_FMT_RGB24, enc_width, enc_height, AV_PIX_FMT_YUV420P,
                           SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
  if (!sws) fail("cannot set up RGB -> YUV conversion");
  rgb = av::make_frame();
  yuv = av::make_frame();
  for (auto* f : {rgb.get(), yuv.get()}) {
    f->width = enc_width;
    f->height = enc_height;
  }
  rgb->format = AV_PIX_FMT_RGB24;
  yuv->format = AV_PIX_FMT_YUV420P;
  check(av_frame_get_buffer(rgb.get(), 0), "out of memory");
  check(av_frame_get_buffer(yuv.get(), 0), "out of memory");
  pkt = av::make_packet();
}

// Sends one frame (nullptr: end of stream) and writes every packet ready.
void VideoWriter::Impl::encode(const AVFrame* frame) {
  check(avcodec_send_frame(enc.get(), frame), "encoding failed");
  while (true) {
    int ret = avcodec_receive_packet(enc.get(), pkt.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
    check(ret, "encoding failed");
    av_packet_rescale_ts(pkt.get(), enc->time_base, stream->time_base);
    pkt->stream_index = stream->index;
    check(av_interleaved_write_frame(out.get(), pkt.get()), "cannot write to file");
  }
}

void VideoWriter::Impl::close_and_remove_partial() {
  out.reset();  // closes the file before it is deleted
  std::error_code ec;
  std::filesystem::remove(partial, ec);
}

VideoWriter::VideoWriter(const std::string& path, int64_t width, int64_t height, double fps)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.partial = partial_path(path);
  if (width < 1 || height < 1 || width > av::kMaxSide || height > av::kMaxSide) {
    m.fail("unsupported size " + std::to_string(width) + "x" + std::to_string(height));
  }
  if (!std::isfinite(fps) || fps <= 0 || fps > 1000) m.fail("unsupported frame rate " + std::to_string(fps));
  m.width = static_cast<int>(width);
  m.height = static_cast<int>(height);
  m.enc_width = even(width);
  m.enc_height = even(height);
  try {
    m.open(fps);
  } catch (...) {
    m.close_and_remove_partial();
    throw;
  }
}

VideoWriter::~VideoWriter() {
  if (impl_ && !impl_->finished) impl_->close_and_remove_partial();
}

void VideoWriter::write(const at::Tensor& rgb_frame) {
  Impl& m = *impl_;
  if (m.finished) m.fail("write() after finish()");
  if (rgb_frame.dim() != 3 || rgb_frame.size(0) != m.height || rgb_frame.size(1) != m.width ||
      rgb_frame.size(2) != 3 || rgb_frame.scalar_type() != at::kByte) {
    m.fail("expected a uint8 [" + std::to_string(m.height) + ", " + std::to_string(m.width) + ", 3] frame, got " +
           c10::str(rgb_frame.scalar_type()) + " " + c10::str(rgb_frame.sizes()));
  }
  at::Tensor src = rgb_frame.contiguous();
  const uint8_t* in = src.data_ptr<uint8_t>();
  const size_t row_bytes = static_cast<size_t>(m.width) * 3;
  for (int y = 0; y < m.enc_height; ++y) {
    uint8_t* dst = m.rgb->data[0] + static_cast<ptrdiff_t>(y) * m.rgb->linesize[0];
    std::memcpy(dst, in + std::min(y, m.height - 1) * row_bytes, row_bytes);
    if (m.enc_width != m.width) std::memcpy(dst + row_bytes, dst + row_bytes - 3, 3);
  }
  m.check(av_frame_make_writable(m.yuv.get()), "out of memory");
  sws_scale(m.sws.get(), m.rgb->data, m.rgb->linesize, 0, m.enc_height, m.yuv->data, m.yuv->linesize);
  m.yuv->pts = m.next_pts++;
  m.encode(m.yuv.get());
}

void VideoWriter::finish() {
  Impl& m = *impl_;
  if (m.finished) return;
  if (m.next_pts == 0) m.fail("no frames were written");
  m.encode(nullptr);
  m.check(av_write_trailer(m.out.get()), "cannot finish the MP4 file");
  m.check(avio_closep(&m.out->pb), "cannot close the file");
  m.out.reset();
  std::error_code ec;
  std::filesystem::rename(m.partial, m.path, ec);
  if (ec) m.fail("cannot rename the finished file: " + ec.message());
  m.finished = true;
}

void write_video(const std::string& path, const at::Tensor& frames, double fps) {
  if (frames.dim() != 4 || frames.size(0) < 1 || frames.size(3) != 3 || frames.scalar_type() != at::kByte) {
    throw Error("cannot write video '" + path + "': expected uint8 [F, H, W, 3] frames, got " +
                c10::str(frames.sizes()));
  }
  VideoWriter writer(path, frames.size(2), frames.size(1), fps);
  for (int64_t i = 0; i < frames.size(0); ++i) writer.write(frames[i]);
  writer.finish();
}

}  // namespace ma
