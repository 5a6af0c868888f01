// read_video: a media file through libavformat/libavcodec, decoded the way
// the original's VideoReader (PyAV) does it, or a folder of numbered frames.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "media/frame_to_rgb.h"
#include "media/image.h"
#include "media/libav_util.h"
#include "media/video.h"
#include "util/error.h"

namespace ma {
namespace {

namespace fs = std::filesystem;

// Holding more decoded frames than this is a mistake (a long, large video
// with no max_frames), not something to attempt on a 24 GiB machine.
constexpr int64_t kMaxDecodedBytes = 4ll << 30;

constexpr double kFolderFps = 25.0;

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw Error("cannot read video '" + path + "': " + why);
}

void check_budget(const std::string& path, int64_t frames, int64_t w, int64_t h) {
  if (frames * w * h * 3 > kMaxDecodedBytes) {
    fail(path, "more than " + std::to_string(frames - 1) + " frames of " + std::to_string(w) + "x" +
                   std::to_string(h) + " do not fit the 4 GiB frame budget; read fewer frames");
  }
}

// ---- frame folders -------------------------------------------------------

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* const kExts[] = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"};
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

// "frame2" < "frame10": digit runs compare by value, everything else by
// character; ties fall back to plain comparison so the order is total.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      size_t is = i, js = j;
      while (is + 1 < ie && a[is] == '0') ++is;  // leading zeros do not change the value
      while (js + 1 < je && b[js] == '0') ++js;
      if (ie - is != je - js) return ie - is < je - js;
      int c = a.compare(is, ie - is, b, js, je - js);
      if (c != 0) return c < 0;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
  return a < b;
}

DecodedVideo read_frame_folder(const std::string& path, int64_t max_frames, int64_t offset) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && is_image_name(it->path())) names.push_back(it->path().filename().string());
  }
  if (ec) fail(path, ec.message());
  if (names.empty()) fail(path, "the folder holds no image frames (.png, .jpg, .webp, .bmp, .gif, .tif)");
  std::sort(names.begin(), names.end(), natural_less);
  if (offset >= static_cast<int64_t>(names.size())) {
    fail(path, "offset " + std::to_string(offset) + " is past its " + std::to_string(names.size()) + " frames");
  }
  const int64_t available = static_cast<int64_t>(names.size()) - offset;
  const int64_t count = max_frames < 0 ? available : std::min(max_frames, available);
  std::vector<at::Tensor> frames;
  for (int64_t i = 0; i < count; ++i) {
    const std::string file = (fs::path(path) / names[static_cast<size_t>(offset + i)]).string();
    at::Tensor f = read_image_rgb(file);
    if (!frames.empty() && f.sizes() != frames.front().sizes()) {
      fail(path, "frame '" + file + "' is " + c10::str(f.sizes()) + " but the first frame is " +
                     c10::str(frames.front().sizes()));
    }
    check_budget(path, i + 1, f.size(1), f.size(0));
    frames.push_back(std::move(f));
  }
  return DecodedVideo{at::stack(frames), kFolderFps};
}

// ---- media files ---------------------------------------------------------

int first_video_stream(const AVFormatContext& fmt) {
  // The original takes container.streams.video[0]; cover art is not video.
  for (unsigned i = 0; i < fmt.nb_streams; ++i) {
    const AVStream* s = fmt.streams[i];
    if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

double stream_fps(const AVStream& s) {
  for (AVRational r : {s.avg_frame_rate, s.r_frame_rate}) {
    if (r.num > 0 && r.den > 0) {
      double fps = av_q2d(r);
      if (std::isfinite(fps) && fps > 0 && fps <= 1000) return fps;
    }
  }
  return 25.0;
}

class FrameCollector {
 public:
  FrameCollector(std::string path, int64_t max_frames, int64_t offset)
      : path_(std::move(path)), max_frames_(max_frames), offset_(offset) {}

  bool full() const { return max_frames_ >= 0 && static_cast<int64_t>(frames_.size()) >= max_frames_; }

  void add(const AVFrame& f) {
    // The original's reader keeps frames with pts * time_base >= 0, so
    // frames an edit list places before the start are dropped.
    if (f.pts != AV_NOPTS_VALUE && f.pts < 0) return;
    if (f.width <= 0 || f.height <= 0 || f.width > av::kMaxSide || f.height > av::kMaxSide) {
      fail(path_, "unsupported frame size " + std::to_string(f.width) + "x" + std::to_string(f.height));
    }
    if (seen_++ < offset_ || full()) return;
    if (!frames_.empty() && (f.width != frames_.front().size(1) || f.height != frames_.front().size(0))) {
      fail(path_, "the frame size changes mid-stream");
    }
    check_budget(path_, static_cast<int64_t>(frames_.size()) + 1, f.width, f.height);
    try {
      frames_.push_back(converter_.convert(f));
    } catch (const Error& e) {
      fail(path_, e.what());
    }
  }

  at::Tensor take() {
    if (frames_.empty()) {
      fail(path_, seen_ == 0 ? "no video frames could be decoded"
                             : "offset " + std::to_string(offset_) + " is past its " + std::to_string(seen_) +
                                   " frames");
    }
    return at::stack(frames_);
  }

 private:
  std::string path_;
  int64_t max_frames_, offset_, seen_ = 0;
  std::vector<at::Tensor> frames_;
  av::VideoRgbConverter converter_;
};

// Drains every frame the decoder has ready into `out`.
void receive_all(AVCodecContext* dec, AVFrame* frame, FrameCollector& out) {
  while (!out.full()) {
    int ret = avcodec_receive_frame(dec, frame);
    if (ret < 0) return;  // EAGAIN: needs input; EOF: done; errors: skip the damaged frame
    out.add(*frame);
    av_frame_unref(frame);
  }
}

DecodedVideo read_media_file(const std::string& path, int64_t max_frames, int64_t offset) {
  av::quiet_logging();
  AVFormatContext* raw = nullptr;
  int ret = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (ret < 0) fail(path, av::error_text(ret));
  av::InputPtr fmt(raw);
  ret = avformat_find_stream_info(fmt.get(), nullptr);
  if (ret < 0) fail(path, av::error_text(ret));
  const int index = first_video_stream(*fmt);
  if (index < 0) fail(path, "no video stream");
  const AVStream* stream = fmt->streams[index];
  const AVCodecParameters* par = stream->codecpar;
  if (par->width > av::kMaxSide || par->height > av::kMaxSide) {
    fail(path, "unsupported frame size " + std::to_string(par->width) + "x" + std::to_string(par->height) +
                   " (at most " + std::to_string(av::kMaxSide) + " per side)");
  }
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) fail(path, std::string("no decoder for ") + avcodec_get_name(par->codec_id));
  av::CodecPtr dec(avcodec_alloc_context3(codec));
  if (!dec) throw std::bad_alloc();
  ret = avcodec_parameters_to_context(dec.get(), par);
  if (ret < 0) fail(path, av::error_text(ret));
  dec->max_pixels = static_cast<int64_t>(av::kMaxSide) * av::kMaxSide;
  dec->thread_count = 0;  // automatic; H.264 output is bit-exact across thread counts
  dec->pkt_timebase = stream->time_base;
  ret = avcodec_open2(dec.get(), codec, nullptr);
  if (ret < 0) fail(path, "cannot open the " + std::string(codec->name) + " decoder: " + av::error_text(ret));

  FrameCollector frames(path, max_frames, offset);
  av::PacketPtr pkt = av::make_packet();
  av::FramePtr frame = av::make_frame();
  // av_read_frame ends with an error at EOF and on truncated or damaged
  // input alike; either way we decode what arrived.
  while (!frames.full() && av_read_frame(fmt.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == index) {
      // A damaged packet is skipped, as players do; whether anything usable
      // was decoded is decided at the end.
      if (avcodec_send_packet(dec.get(), pkt.get()) >= 0) receive_all(dec.get(), frame.get(), frames);
    }
    av_packet_unref(pkt.get());
  }
  if (!frames.full() && avcodec_send_packet(dec.get(), nullptr) >= 0) {
    receive_all(dec.get(), frame.get(), frames);
  }
  return DecodedVideo{frames.take(), stream_fps(*stream)};
}

}  // namespace

DecodedVideo read_video(const std::string& path, int64_t max_frames, int64_t offset) {
  if (offset < 0) fail(path, "negative offset " + std::to_string(offset));
  if (max_frames == 0) fail(path, "max_frames is 0");
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_frame_folder(path, max_frames, offset);
  if (!fs::exists(path, ec)) fail(path, "no such file or folder");
  // Devices and pipes could block or never end.
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file or folder");
  return read_media_file(path, max_frames, offset);
}

}  // namespace ma
