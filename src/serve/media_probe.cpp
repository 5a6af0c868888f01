#include "serve/media_probe.h"

#include "media/libav_util.h"
#include "serve/request_error.h"

namespace ma::serve {
namespace {

// One opened file: demuxer, its best video stream and a decoder for it.
struct Decoder {
  av::InputPtr format;
  av::CodecPtr codec;
  int stream = -1;
  MediaInfo info;
};

Decoder open_decoder(const std::string& path, const std::string& field, const char* kind, int64_t max_side) {
  auto unreadable = [&](const std::string& why) {
    return RequestError(415, field + ": not a decodable " + kind + " (" + why + ")");
  };
  av::quiet_logging();  // the client gets the reason in the reply, the log need not
  Decoder d;
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (rc < 0) throw unreadable(av::error_text(rc));
  d.format.reset(raw);
  rc = avformat_find_stream_info(raw, nullptr);
  // End of file here means no packets at all: the stream may still be known
  // (an empty video), which decoding then reports precisely.
  if (rc < 0 && rc != AVERROR_EOF) throw unreadable(av::error_text(rc));
  d.stream = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  for (unsigned i = 0; d.stream < 0 && i < raw->nb_streams; ++i)  // a track with no frames is not "best"
    if (raw->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) d.stream = static_cast<int>(i);
  if (d.stream < 0) throw unreadable("no picture in it");
  AVStream* st = raw->streams[d.stream];
  const AVCodecParameters* par = st->codecpar;
  d.info.width = par->width;
  d.info.height = par->height;
  d.info.codec = avcodec_get_name(par->codec_id);
  if (st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0) d.info.fps = av_q2d(st->avg_frame_rate);
  if (d.info.width <= 0 || d.info.height <= 0) throw unreadable("no picture size");
  if (d.info.width > max_side || d.info.height > max_side)
    throw RequestError(413, field + ": " + std::to_string(d.info.width) + "x" + std::to_string(d.info.height) +
                                " is larger than the server's limit of " + std::to_string(max_side) +
                                " pixels per side");
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) throw unreadable("no decoder for " + d.info.codec);
  d.codec.reset(avcodec_alloc_context3(codec));
  if (!d.codec) throw Error("out of memory opening a decoder");
  rc = avcodec_parameters_to_context(d.codec.get(), par);
  if (rc >= 0) {
    d.codec->thread_count = 1;  // request threads are many; keep each one light
    rc = avcodec_open2(d.codec.get(), codec, nullptr);
  }
  if (rc < 0) throw unreadable(av::error_text(rc));
  return d;
}

// Decodes up to `stop_after` frames; returns how many came out. Any demuxer or
// decoder error (other than the end of the file), a packet the demuxer marks
// corrupt, or fewer packets than the container's index promises rejects the
// file: that is what a truncated upload looks like.
int64_t decode_frames(Decoder& d, const std::string& field, const char* kind, int64_t stop_after) {
  auto corrupt = [&](const std::string& why) {
    return RequestError(415, field + ": corrupt or truncated " + kind + " (" + why + ")");
  };
  av::PacketPtr packet = av::make_packet();
  av::FramePtr frame = av::make_frame();
  int64_t frames = 0, packets = 0;
  auto drain = [&]() {
    while (true) {
      int rc = avcodec_receive_frame(d.codec.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) throw corrupt(av::error_text(rc));
      ++frames;
      av_frame_unref(frame.get());
    }
  };
  int rc = AVERROR_EOF;
  while (frames < stop_after && (rc = av_read_frame(d.format.get(), packet.get())) >= 0) {
    if (packet->stream_index == d.stream) {
      ++packets;
      if (packet->flags & AV_PKT_FLAG_CORRUPT) throw corrupt("a frame is cut short");
      int sent = avcodec_send_packet(d.codec.get(), packet.get());
      av_packet_unref(packet.get());
      if (sent < 0 && sent != AVERROR(EAGAIN)) throw corrupt(av::error_text(sent));
      drain();
    } else {
      av_packet_unref(packet.get());
    }
  }
  if (frames >= stop_after) return frames;
  if (rc != AVERROR_EOF) throw corrupt(av::error_text(rc));
  const int64_t promised = d.format->streams[d.stream]->nb_frames;  // 0: the container does not say
  if (promised > 0 && packets < promised)
    throw corrupt("the file ends after " + std::to_string(packets) + " of its " + std::to_string(promised) +
                  " frames");
  rc = avcodec_send_packet(d.codec.get(), nullptr);  // flush the frames the decoder holds back
  if (rc < 0 && rc != AVERROR_EOF) throw corrupt(av::error_text(rc));
  drain();
  return frames;
}

}  // namespace

MediaInfo probe_image(const std::string& path, const std::string& field, int64_t max_side) {
  Decoder d = open_decoder(path, field, "image", max_side);
  const AVCodecID id = d.format->streams[d.stream]->codecpar->codec_id;
  if (id != AV_CODEC_ID_PNG && id != AV_CODEC_ID_MJPEG && id != AV_CODEC_ID_WEBP && id != AV_CODEC_ID_BMP)
    throw RequestError(415, field + ": not a still image (" + d.info.codec + "); send PNG, JPEG, WebP or BMP");
  d.info.frames = decode_frames(d, field, "image", 1);
  if (d.info.frames < 1) throw RequestError(415, field + ": not a decodable image (no picture decoded)");
  return d.info;
}

MediaInfo probe_video(const std::string& path, const std::string& field, int64_t max_side, int64_t max_frames) {
  Decoder d = open_decoder(path, field, "video", max_side);
  d.info.frames = decode_frames(d, field, "video", max_frames + 1);
  if (d.info.frames == 0) throw RequestError(422, field + ": the video has no frames");
  if (d.info.frames > max_frames)
    throw RequestError(413, field + ": more than " + std::to_string(max_frames) +
                                " frames (the server's --max-frames limit)");
  return d.info;
}

}  // namespace ma::serve
