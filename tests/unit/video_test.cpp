// Video in (as the original's PyAV VideoReader decodes it) and out (H.264
// MP4), frame folders, GIF, the result grid and the error paths.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "media/image.h"
#include "media/video.h"
#include "test_util.h"
#include "temp_dir.h"
#include "util/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace fs = std::filesystem;

namespace ma {
namespace {

std::string sample(const std::string& name) { return std::string(MA_SOURCE_DIR) + "/samples/" + name; }

int64_t max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kInt) - b.to(at::kInt)).abs().max().item<int64_t>();
}


std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void expect_error_naming(const std::function<void()>& f, const std::string& name) {
  try {
    f();
    ADD_FAILURE() << "no error for " << name;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

// Smooth moving gradients: content H.264 at CRF 18 reproduces closely.
at::Tensor gradient_frames(int64_t n, int64_t h, int64_t w) {
  at::Tensor t = at::arange(n).view({n, 1, 1}).to(at::kFloat);
  at::Tensor y = at::arange(h).view({1, h, 1}).to(at::kFloat);
  at::Tensor x = at::arange(w).view({1, 1, w}).to(at::kFloat);
  at::Tensor r = (x * 3 + t * 6).expand({n, h, w});
  at::Tensor g = (y * 4 + 20).expand({n, h, w});
  at::Tensor b = (128 + (x - y) * 1.5 - t * 3).expand({n, h, w});
  return at::stack({r, g, b}, 3).clamp(0, 255).round().to(at::kByte).contiguous();
}

// ---- reading the original's sample video ---------------------------------

TEST(ReadVideo, RunningMp4ResizedEqualsGoldenControl) {
  // The original: VideoReader(path).read() (PyAV, frame.to_rgb()), then
  // np.array(Image.fromarray(frame).resize((64, 64))) per frame.
  DecodedVideo v = read_video(sample("running.mp4"), 20);
  ASSERT_EQ(v.frames.sizes(), (std::vector<int64_t>{20, 512, 512, 3}));
  EXPECT_DOUBLE_EQ(v.fps, 25.0);
  at::Tensor control = test::golden("input.control_u8");
  for (int64_t i = 0; i < 20; ++i) {
    at::Tensor small = resize_like_pillow(v.frames[i], 64, 64);
    EXPECT_TRUE(small.equal(control[i])) << "frame " << i << ": max diff " << max_abs_diff(small, control[i]);
  }
}

TEST(ReadVideo, AllFramesAndOffsets) {
  DecodedVideo all = read_video(sample("running.mp4"));
  EXPECT_EQ(all.frames.size(0), 42);  // PyAV decodes 42 frames from this file
  DecodedVideo part = read_video(sample("running.mp4"), 5, 10);
  ASSERT_EQ(part.frames.size(0), 5);
  EXPECT_TRUE(part.frames.equal(all.frames.slice(0, 10, 15)));
  EXPECT_EQ(read_video(sample("running.mp4"), 100, 40).frames.size(0), 2);  // clipped at the end
}

// ---- writing ---------------------------------------------------------------

TEST(VideoWriter, RoundTripKeepsCountSizeRateAndPixels) {
  test::TempDir dir;
  const std::string path = dir / "out.mp4";
  at::Tensor frames = gradient_frames(10, 48, 64);
  write_video(path, frames, 12.5);
  EXPECT_FALSE(fs::exists(path + ".partial"));
  DecodedVideo back = read_video(path);
  ASSERT_EQ(back.frames.sizes(), frames.sizes());
  EXPECT_NEAR(back.fps, 12.5, 1e-9);
  // Lossy: CRF 18 and a BT.601 limited-range 4:2:0 round trip. Reading
  // copies PyAV's conversion (swscale's fast bilinear path without accurate
  // rounding), which alone reads such gradients ~1 level dark on average;
  // with it, measured mean 1.9 and max 9 levels. The bounds allow other
  // x264/swscale builds while catching any real colour or layout error.
  at::Tensor diff = (back.frames.to(at::kFloat) - frames.to(at::kFloat)).abs();
  EXPECT_LT(diff.mean().item<double>(), 2.5);
  EXPECT_LE(diff.max().item<double>(), 14);
}

TEST(VideoWriter, WritesBrowserPlayableH264Yuv420pWithIndexFirst) {
  test::TempDir dir;
  const std::string path = dir / "probe.mp4";
  write_video(path, gradient_frames(3, 32, 48), 30000.0 / 1001.0);

  AVFormatContext* fmt = nullptr;
  ASSERT_GE(avformat_open_input(&fmt, path.c_str(), nullptr, nullptr), 0);
  ASSERT_GE(avformat_find_stream_info(fmt, nullptr), 0);
  ASSERT_EQ(fmt->nb_streams, 1u);
  const AVCodecParameters* par = fmt->streams[0]->codecpar;
  EXPECT_EQ(par->codec_id, AV_CODEC_ID_H264);
  EXPECT_EQ(par->format, AV_PIX_FMT_YUV420P);
  EXPECT_EQ(par->width, 48);
  EXPECT_EQ(par->height, 32);
  EXPECT_NEAR(av_q2d(fmt->streams[0]->avg_frame_rate), 29.97, 0.01);
  EXPECT_NE(std::string(fmt->iformat->name).find("mp4"), std::string::npos);
  avformat_close_input(&fmt);

  // +faststart: the 'moov' index precedes the 'mdat' payload at top level.
  std::string bytes = read_bytes(path);
  std::vector<std::string> boxes;
  for (size_t at = 0; at + 8 <= bytes.size();) {
    uint32_t size = static_cast<uint32_t>(static_cast<uint8_t>(bytes[at]) << 24 | static_cast<uint8_t>(bytes[at + 1]) << 16 |
                                          static_cast<uint8_t>(bytes[at + 2]) << 8 | static_cast<uint8_t>(bytes[at + 3]));
    boxes.push_back(bytes.substr(at + 4, 4));
    if (size < 8) break;
    at += size;
  }
  auto pos = [&](const char* name) { return std::find(boxes.begin(), boxes.end(), name) - boxes.begin(); };
  ASSERT_LT(pos("mdat"), static_cast<long>(boxes.size()));
  EXPECT_LT(pos("moov"), pos("mdat"));
}

TEST(VideoWriter, OddSizesArePaddedByRepeatingTheEdge) {
  test::TempDir dir;
  const std::string path = dir / "odd.mp4";
  at::Tensor frames = gradient_frames(3, 17, 33);
  write_video(path, frames, 25);
  DecodedVideo back = read_video(path);
  // yuv420p needs even sizes: one repeated column and row are added.
  ASSERT_EQ(back.frames.sizes(), (std::vector<int64_t>{3, 18, 34, 3}));
  at::Tensor inner = back.frames.slice(1, 0, 17).slice(2, 0, 33);
  // Same lossy tolerance as the round trip above (measured mean 2.2 here:
  // a small frame is mostly edge blocks).
  EXPECT_LT((inner.to(at::kFloat) - frames.to(at::kFloat)).abs().mean().item<double>(), 3.0);
  // The added column/row repeat their neighbour, up to the same loss.
  EXPECT_LE(max_abs_diff(back.frames.select(2, 33), back.frames.select(2, 32)), 14);
  EXPECT_LE(max_abs_diff(back.frames.select(1, 17), back.frames.select(1, 16)), 14);
}

TEST(VideoWriter, AbandonedWriterLeavesNothing) {
  test::TempDir dir;
  const std::string path = dir / "gone.mp4";
  {
    VideoWriter w(path, 32, 32, 25);
    at::Tensor frames = gradient_frames(2, 32, 32);
    w.write(frames[0]);
    w.write(frames[1]);
    EXPECT_TRUE(fs::exists(path + ".partial"));
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));
  EXPECT_FALSE(fs::exists(path));
}

TEST(VideoWriter, RejectsBadFramesAndEmptyVideos) {
  test::TempDir dir;
  const std::string path = dir / "bad.mp4";
  {
    VideoWriter w(path, 32, 24, 25);
    EXPECT_THROW(w.write(at::zeros({24, 31, 3}, at::kByte)), Error);
    EXPECT_THROW(w.write(at::zeros({24, 32, 3}, at::kFloat)), Error);
    EXPECT_THROW(w.finish(), Error);  // no frames
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_THROW(VideoWriter(path, 0, 24, 25), Error);
  EXPECT_THROW(VideoWriter(path, 32, 24, 0), Error);
  EXPECT_THROW(VideoWriter(dir / "no/such/dir/x.mp4", 32, 24, 25), Error);
  EXPECT_THROW(write_video(path, at::zeros({2, 8, 8}, at::kByte), 25), Error);
}

// ---- other inputs ---------------------------------------------------------

// An animated GIF of solid palette colours, written with FFmpeg's encoder.
void write_gif(const std::string& path, const std::vector<uint32_t>& colours, int w, int h) {
  AVFormatContext* oc = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&oc, nullptr, "gif", path.c_str()), 0);
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_GIF);
  AVCodecContext* enc = avcodec_alloc_context3(codec);
  enc->width = w;
  enc->height = h;
  enc->pix_fmt = AV_PIX_FMT_PAL8;
  enc->time_base = AVRational{1, 10};
  ASSERT_GE(avcodec_open2(enc, codec, nullptr), 0);
  AVStream* st = avformat_new_stream(oc, nullptr);
  avcodec_parameters_from_context(st->codecpar, enc);
  st->time_base = enc->time_base;
  ASSERT_GE(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(oc, nullptr), 0);
  AVPacket* pkt = av_packet_alloc();
  auto drain = [&] {
    while (avcodec_receive_packet(enc, pkt) >= 0) {
      av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
      pkt->stream_index = 0;
      av_interleaved_write_frame(oc, pkt);
    }
  };
  for (size_t i = 0; i < colours.size(); ++i) {
    AVFrame* f = av_frame_alloc();
    f->format = AV_PIX_FMT_PAL8;
    f->width = w;
    f->height = h;
    av_frame_get_buffer(f, 0);
    for (int y = 0; y < h; ++y) std::memset(f->data[0] + y * f->linesize[0], static_cast<int>(i), w);
    std::memset(f->data[1], 0, 1024);
    for (size_t c = 0; c < colours.size(); ++c) reinterpret_cast<uint32_t*>(f->data[1])[c] = 0xFF000000u | colours[c];
    f->pts = static_cast<int64_t>(i);
    avcodec_send_frame(enc, f);
    drain();
    av_frame_free(&f);
  }
  avcodec_send_frame(enc, nullptr);
  drain();
  av_write_trailer(oc);
  avio_closep(&oc->pb);
  avformat_free_context(oc);
  av_packet_free(&pkt);
  avcodec_free_context(&enc);
}

TEST(ReadVideo, AnimatedGif) {
  test::TempDir dir;
  const std::string path = dir / "anim.gif";
  const std::vector<uint32_t> colours = {0xFF0000, 0x00FF80, 0x2040C0};
  write_gif(path, colours, 10, 6);
  DecodedVideo v = read_video(path);
  ASSERT_EQ(v.frames.sizes(), (std::vector<int64_t>{3, 6, 10, 3}));
  EXPECT_GT(v.fps, 0);
  for (int i = 0; i < 3; ++i) {
    at::Tensor expected = at::tensor({static_cast<int>(colours[i] >> 16), static_cast<int>((colours[i] >> 8) & 0xFF),
                                      static_cast<int>(colours[i] & 0xFF)},
                                     at::kByte);
    EXPECT_TRUE(v.frames[i].eq(expected).all().item<bool>()) << "frame " << i;
  }
}

TEST(ReadVideo, FrameFolderInNaturalOrder) {
  test::TempDir dir;
  // Named so that plain string order (1, 10, 2) differs from numeric order.
  const int numbers[3] = {10, 1, 2};
  for (int n : numbers) {
    write_png(dir / ("frame" + std::to_string(n) + ".png"), at::full({4, 6, 3}, n * 10, at::kByte));
  }
  write_bytes(dir / "notes.txt", "not a frame");
  DecodedVideo v = read_video(dir.path());
  ASSERT_EQ(v.frames.sizes(), (std::vector<int64_t>{3, 4, 6, 3}));
  EXPECT_DOUBLE_EQ(v.fps, 25.0);
  EXPECT_EQ(v.frames[0][0][0][0].item<int>(), 10);
  EXPECT_EQ(v.frames[1][0][0][0].item<int>(), 20);
  EXPECT_EQ(v.frames[2][0][0][0].item<int>(), 100);
  DecodedVideo one = read_video(dir.path(), 1, 1);
  ASSERT_EQ(one.frames.size(0), 1);
  EXPECT_EQ(one.frames[0][0][0][0].item<int>(), 20);
}

// ---- errors ---------------------------------------------------------------

TEST(ReadVideoErrors, MissingTextAndTruncatedFiles) {
  test::TempDir dir;
  expect_error_naming([] { read_video("/nonexistent/clip.mp4"); }, "/nonexistent/clip.mp4");

  write_bytes(dir / "text.mp4", "hello, this is not a video\n");
  expect_error_naming([&] { read_video(dir / "text.mp4"); }, "text.mp4");

  // running.mp4 keeps its index at the end: cut short, it has none.
  std::string mp4 = read_bytes(sample("running.mp4"));
  write_bytes(dir / "cut.mp4", mp4.substr(0, mp4.size() / 2));
  expect_error_naming([&] { read_video(dir / "cut.mp4"); }, "cut.mp4");

  // Our own files have the index first: cut short, the frames that arrived
  // are returned (never a hang or crash), or an error if none decode.
  write_video(dir / "full.mp4", gradient_frames(20, 64, 64), 25);
  std::string ours = read_bytes(dir / "full.mp4");
  for (size_t keep : {ours.size() * 2 / 3, ours.size() / 10, size_t{40}}) {
    write_bytes(dir / "part.mp4", ours.substr(0, keep));
    try {
      DecodedVideo v = read_video(dir / "part.mp4");
      EXPECT_GE(v.frames.size(0), 1);
      EXPECT_LT(v.frames.size(0), 20) << "kept " << keep << " bytes";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("part.mp4"), std::string::npos) << e.what();
    }
  }
}

TEST(ReadVideoErrors, FoldersWithoutUsableFrames) {
  test::TempDir dir;
  fs::create_directories(dir / "empty");
  expect_error_naming([&] { read_video(dir / "empty"); }, "empty");

  fs::create_directories(dir / "text_only");
  write_bytes(dir / "text_only/readme.txt", "no frames here");
  expect_error_naming([&] { read_video(dir / "text_only"); }, "text_only");

  fs::create_directories(dir / "broken");
  write_png(dir / "broken/0001.png", at::zeros({4, 4, 3}, at::kByte));
  write_bytes(dir / "broken/0002.png", "not really a png");
  expect_error_naming([&] { read_video(dir / "broken"); }, "0002.png");

  fs::create_directories(dir / "mixed");
  write_png(dir / "mixed/1.png", at::zeros({4, 4, 3}, at::kByte));
  write_png(dir / "mixed/2.png", at::zeros({4, 6, 3}, at::kByte));
  expect_error_naming([&] { read_video(dir / "mixed"); }, "2.png");

  expect_error_naming([&] { read_video(dir / "mixed", 1, 5); }, "mixed");  // offset past the end
  expect_error_naming([&] { read_video(sample("running.mp4"), 3, 42); }, "running.mp4");
}

// ---- grid ----------------------------------------------------------------

TEST(MakeGridRow, MatchesTorchvisionLayout) {
  std::vector<at::Tensor> images;
  for (int i = 0; i < 3; ++i) images.push_back(at::full({4, 5, 3}, 10 * (i + 1), at::kByte));
  at::Tensor grid = make_grid_row(images);
  // torchvision: (H + 2p) x (n (W + p) + p) with image k at (p, k (W + p) + p).
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{8, 23, 3}));
  at::Tensor expected = at::zeros({8, 23, 3}, at::kByte);
  for (int k = 0; k < 3; ++k) expected.slice(0, 2, 6).slice(1, k * 7 + 2, k * 7 + 7).fill_(10 * (k + 1));
  EXPECT_TRUE(grid.equal(expected));

  // make_grid returns a single image unpadded.
  EXPECT_TRUE(make_grid_row({images[0]}).equal(images[0]));
  EXPECT_EQ(make_grid_row(images, 0).sizes(), (std::vector<int64_t>{4, 15, 3}));
  EXPECT_THROW(make_grid_row({}), Error);
  EXPECT_THROW(make_grid_row({images[0], at::zeros({4, 6, 3}, at::kByte)}), Error);
}

}  // namespace
}  // namespace ma
