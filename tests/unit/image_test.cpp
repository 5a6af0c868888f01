// Still images: decoding like Pillow's Image.open(...).convert("RGB"),
// Pillow-exact resizing, PNG writing. References come from the original's
// fixtures (golden.safetensors, its PNGs) and from Pillow itself
// (tests/data/media, made by make_media.py there).
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "media/image.h"
#include "test_util.h"
#include "temp_dir.h"
#include "util/error.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/crc.h>
#include <libavutil/frame.h>
}

namespace fs = std::filesystem;

namespace ma {
namespace {

std::string media(const std::string& name) { return test::data_dir() + "/media/" + name; }
std::string sample(const std::string& name) { return std::string(MA_SOURCE_DIR) + "/samples/" + name; }

int64_t max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kInt) - b.to(at::kInt)).abs().max().item<int64_t>();
}


void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Encodes a PNG in an arbitrary FFmpeg pixel format (palette, 16-bit, ...)
// so the decoder's per-format rules can be checked against known samples.
std::string encode_png(AVPixelFormat fmt, int w, int h, const std::function<void(AVFrame&)>& fill) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  ctx->width = w;
  ctx->height = h;
  ctx->pix_fmt = fmt;
  ctx->time_base = AVRational{1, 1};
  EXPECT_GE(avcodec_open2(ctx, codec, nullptr), 0);
  AVFrame* frame = av_frame_alloc();
  frame->format = fmt;
  frame->width = w;
  frame->height = h;
  EXPECT_GE(av_frame_get_buffer(frame, 0), 0);
  fill(*frame);
  AVPacket* pkt = av_packet_alloc();
  EXPECT_GE(avcodec_send_frame(ctx, frame), 0);
  avcodec_send_frame(ctx, nullptr);
  EXPECT_GE(avcodec_receive_packet(ctx, pkt), 0);
  std::string bytes(reinterpret_cast<const char*>(pkt->data), static_cast<size_t>(pkt->size));
  av_packet_free(&pkt);
  av_frame_free(&frame);
  avcodec_free_context(&ctx);
  return bytes;
}

uint8_t* px(AVFrame& f, int x, int y, int bytes_per_pixel) {
  return f.data[0] + y * f.linesize[0] + x * bytes_per_pixel;
}

// ---- decoding: the original's fixtures -----------------------------------

TEST(ImageDecode, ControlPngsEqualGoldenControlFrames) {
  at::Tensor control = test::golden("input.control_u8");
  for (int i = 0; i < 20; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/control/%04d.png", i);
    at::Tensor img = read_image_rgb(test::public_case_dir() + name);
    ASSERT_EQ(img.sizes(), (std::vector<int64_t>{64, 64, 3})) << name;
    EXPECT_TRUE(img.equal(control[i])) << name;
  }
}

TEST(ImageDecode, SourcePngEqualsGoldenSource) {
  at::Tensor img = read_image_rgb(test::public_case_dir() + "/source.png");
  EXPECT_TRUE(img.equal(test::golden("input.source_image_u8")));
}

TEST(ImageDecode, FromMemoryEqualsFromFile) {
  std::string path = test::public_case_dir() + "/source.png";
  EXPECT_TRUE(decode_image_rgb(read_bytes(path), "upload.png").equal(read_image_rgb(path)));
}

// ---- decoding: Pillow's own output for other formats ---------------------

TEST(ImageDecode, LosslessFormatsEqualPillow) {
  for (const char* name : {"lossless.webp", "palette.gif", "rgb.bmp"}) {
    at::Tensor ours = read_image_rgb(media(name));
    at::Tensor pillow = read_image_rgb(media(std::string(name) + ".pillow.png"));
    ASSERT_EQ(ours.sizes(), (std::vector<int64_t>{37, 53, 3})) << name;
    EXPECT_TRUE(ours.equal(pillow)) << name << ": max diff " << max_abs_diff(ours, pillow);
  }
}

TEST(ImageDecode, LossyWebpEqualsPillow) {
  // libwebp's fancy upsampling and fixed-point YUV -> RGB, reproduced exactly.
  for (const char* name : {"lossy.webp", "lossy_alpha.webp"}) {
    at::Tensor ours = read_image_rgb(media(name));
    at::Tensor pillow = read_image_rgb(media(std::string(name) + ".pillow.png"));
    EXPECT_TRUE(ours.equal(pillow)) << name << ": max diff " << max_abs_diff(ours, pillow);
  }
}

TEST(ImageDecode, JpegWithinThreeLevelsOfPillow) {
  // Chroma upsampling and YCbCr -> RGB follow libjpeg exactly, but FFmpeg's
  // integer IDCT (the same "islow" algorithm) runs rows first where libjpeg
  // runs columns first, so about 2% of Y/Cb/Cr samples differ by 1, which
  // the colour conversion can turn into at most 3 levels of RGB.
  for (const char* name : {"q420.jpg", "q422.jpg", "q444.jpg", "progressive.jpg", "gray.jpg"}) {
    at::Tensor ours = read_image_rgb(media(name));
    at::Tensor pillow = read_image_rgb(media(std::string(name) + ".pillow.png"));
    ASSERT_EQ(ours.sizes(), pillow.sizes()) << name;
    EXPECT_LE(max_abs_diff(ours, pillow), 3) << name;
    double mean = (ours.to(at::kFloat) - pillow.to(at::kFloat)).abs().mean().item<double>();
    EXPECT_LT(mean, 0.1) << name;
  }
}

// ---- decoding: Pillow's per-mode rules on PNGs made here -----------------

TEST(ImageDecode, PalettePngLooksUpColours) {
  const uint32_t palette[3] = {0xFF102030u, 0x80405060u, 0x00FF0080u};  // ARGB; alpha must be ignored
  std::string png = encode_png(AV_PIX_FMT_PAL8, 3, 2, [&](AVFrame& f) {
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) *px(f, x, y, 1) = static_cast<uint8_t>((x + y) % 3);
    std::memset(f.data[1], 0, 1024);
    std::memcpy(f.data[1], palette, sizeof palette);
  });
  at::Tensor img = decode_image_rgb(png, "palette.png");
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{2, 3, 3}));
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      uint32_t c = palette[(x + y) % 3];
      EXPECT_EQ(img[y][x][0].item<int>(), static_cast<int>((c >> 16) & 0xFF));
      EXPECT_EQ(img[y][x][1].item<int>(), static_cast<int>((c >> 8) & 0xFF));
      EXPECT_EQ(img[y][x][2].item<int>(), static_cast<int>(c & 0xFF));
    }
  }
}

TEST(ImageDecode, RgbaPngDropsAlphaWithoutCompositing) {
  std::string png = encode_png(AV_PIX_FMT_RGBA, 2, 1, [](AVFrame& f) {
    const uint8_t p[8] = {200, 100, 50, 0, 10, 20, 30, 128};
    std::memcpy(px(f, 0, 0, 4), p, 8);
  });
  at::Tensor img = decode_image_rgb(png, "rgba.png");
  std::vector<int> got(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + 6);
  EXPECT_EQ(got, (std::vector<int>{200, 100, 50, 10, 20, 30}));
}

TEST(ImageDecode, SixteenBitColourKeepsHighByte) {
  // Pillow unpacks 16-bit truecolour PNGs ("RGB;16B") by keeping the high byte.
  std::string png = encode_png(AV_PIX_FMT_RGB48BE, 1, 1, [](AVFrame& f) {
    const uint8_t p[6] = {0x12, 0xFF, 0xAB, 0x01, 0x00, 0x80};
    std::memcpy(px(f, 0, 0, 6), p, 6);
  });
  at::Tensor img = decode_image_rgb(png, "rgb48.png");
  std::vector<int> got(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + 3);
  EXPECT_EQ(got, (std::vector<int>{0x12, 0xAB, 0x00}));
}

TEST(ImageDecode, SixteenBitGreyIsClippedLikePillow) {
  // Pillow opens these as mode I;16 and its conversion to RGB clips at 255.
  const uint16_t values[4] = {7, 255, 256, 40000};
  std::string png = encode_png(AV_PIX_FMT_GRAY16BE, 4, 1, [&](AVFrame& f) {
    for (int x = 0; x < 4; ++x) {
      px(f, x, 0, 2)[0] = static_cast<uint8_t>(values[x] >> 8);
      px(f, x, 0, 2)[1] = static_cast<uint8_t>(values[x] & 0xFF);
    }
  });
  at::Tensor img = decode_image_rgb(png, "grey16.png");
  for (int x = 0; x < 4; ++x) {
    int expected = values[x] > 255 ? 255 : values[x];
    for (int c = 0; c < 3; ++c) EXPECT_EQ(img[0][x][c].item<int>(), expected) << x;
  }
}

TEST(ImageDecode, GreyAlphaAndBilevelBecomeGreyRgb) {
  std::string la = encode_png(AV_PIX_FMT_YA8, 2, 1, [](AVFrame& f) {
    const uint8_t p[4] = {77, 0, 200, 255};
    std::memcpy(px(f, 0, 0, 2), p, 4);
  });
  at::Tensor img = decode_image_rgb(la, "la.png");
  EXPECT_TRUE(img.equal(at::tensor({77, 77, 77, 200, 200, 200}, at::kByte).view({1, 2, 3})));

  std::string bits = encode_png(AV_PIX_FMT_MONOBLACK, 8, 1, [](AVFrame& f) { f.data[0][0] = 0xA5; });
  at::Tensor mono = decode_image_rgb(bits, "bits.png");
  const int pattern[8] = {1, 0, 1, 0, 0, 1, 0, 1};  // 0xA5, most significant bit first
  for (int x = 0; x < 8; ++x) EXPECT_EQ(mono[0][x][1].item<int>(), pattern[x] * 255) << x;
}

// ---- decoding: errors -----------------------------------------------------

void expect_error_naming(const std::function<void()>& f, const std::string& name) {
  try {
    f();
    ADD_FAILURE() << "no error for " << name;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

TEST(ImageDecodeErrors, MissingFile) {
  expect_error_naming([] { read_image_rgb("/nonexistent/dir/x.png"); }, "/nonexistent/dir/x.png");
}

TEST(ImageDecodeErrors, TextFileAndEmptyAndTruncated) {
  test::TempDir dir;
  write_bytes(dir / "notes.png", "this is not an image\n");
  expect_error_naming([&] { read_image_rgb(dir / "notes.png"); }, "notes.png");
  write_bytes(dir / "empty.jpg", "");
  expect_error_naming([&] { read_image_rgb(dir / "empty.jpg"); }, "empty.jpg");
  std::string png = read_bytes(media("pattern.png"));
  expect_error_naming([&] { decode_image_rgb(png.substr(0, png.size() / 2), "half.png"); }, "half.png");
  expect_error_naming([&] { read_image_rgb(dir / ""); }, dir / "");  // a folder
}

// A PNG whose header claims 100000 x 100000 pixels must be refused before
// anything that size is allocated.
TEST(ImageDecodeErrors, AbsurdDimensionsAreRefused) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    std::string body = type + data;
    uint32_t crc = av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), 0xFFFFFFFFu,
                          reinterpret_cast<const uint8_t*>(body.data()), body.size()) ^ 0xFFFFFFFFu;
    return be32(static_cast<uint32_t>(data.size())) + body + be32(crc);
  };
  std::string ihdr = be32(100000) + be32(100000) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) +
                    chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + chunk("IEND", "");
  expect_error_naming([&] { decode_image_rgb(png, "huge.png"); }, "huge.png");

  // Within FFmpeg's pixel budget but wider than our 8192-pixel limit.
  std::string wide = encode_png(AV_PIX_FMT_GRAY8, 9000, 1, [](AVFrame& f) { std::memset(f.data[0], 0, 9000); });
  expect_error_naming([&] { decode_image_rgb(wide, "wide.png"); }, "wide.png");
}

// ---- Pillow-exact resize ---------------------------------------------------

TEST(PillowResize, MonalisaTo64EqualsOriginalSourceImage) {
  // The original: np.array(Image.open("monalisa.png").resize((64, 64))).
  at::Tensor img = read_image_rgb(sample("monalisa.png"));
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{512, 512, 3}));
  at::Tensor small = resize_like_pillow(img, 64, 64);
  at::Tensor golden = test::golden("input.source_image_u8");
  EXPECT_TRUE(small.equal(golden)) << "max diff " << max_abs_diff(small, golden);
}

TEST(PillowResize, OddSizesEqualPillow) {
  at::Tensor src = read_image_rgb(media("pattern.png"));
  for (auto [w, h] : {std::pair{20, 50}, {101, 13}, {7, 37}}) {
    std::string name = "pattern.resized_" + std::to_string(w) + "x" + std::to_string(h) + ".png";
    at::Tensor pillow = read_image_rgb(media(name));
    at::Tensor ours = resize_like_pillow(src, w, h);
    ASSERT_EQ(ours.sizes(), pillow.sizes()) << name;
    EXPECT_TRUE(ours.equal(pillow)) << name << ": max diff " << max_abs_diff(ours, pillow);
  }
}

// The same filter in plain double precision (weights not quantised, but each
// pass still rounded to 8 bits as Pillow stores its intermediate image).
at::Tensor reference_resize(const at::Tensor& img, int64_t out_w, int64_t out_h) {
  auto kernel = [](double x) {
    x = std::fabs(x);
    if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
    if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
    return 0.0;
  };
  // Resamples along dim 1 of a [lines, n, C] double tensor.
  auto pass = [&](const at::Tensor& in, int64_t out_n) {
    const int64_t n = in.size(1);
    if (n == out_n) return in;
    const double scale = static_cast<double>(n) / out_n, fs = std::max(scale, 1.0);
    at::Tensor weights = at::zeros({out_n, n}, at::kDouble);
    for (int64_t o = 0; o < out_n; ++o) {
      const double center = (o + 0.5) * scale;
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += kernel((i + 0.5 - center) / fs);
      for (int64_t i = 0; i < n; ++i) weights[o][i] = kernel((i + 0.5 - center) / fs) / sum;
    }
    return at::einsum("on,lnc->loc", {weights, in}).round().clamp(0, 255);
  };
  at::Tensor x = img.to(at::kDouble);
  x = pass(x, out_w);                                  // rows: [H, W, C], resample W
  x = pass(x.transpose(0, 1), out_h).transpose(0, 1);  // columns
  return x.to(at::kByte);
}

TEST(PillowResize, WithinOneLevelOfDoublePrecisionReference) {
  // 22-bit fixed-point weights move a sum by far less than one level, but
  // where the exact value sits next to x.5 the rounding may go either way.
  at::manual_seed(3);
  at::Tensor img = at::randint(0, 256, {29, 41, 3}, at::kByte);
  for (auto [w, h] : {std::pair{41, 29}, {64, 48}, {13, 7}, {100, 10}, {41, 90}, {5, 29}, {1, 1}}) {
    at::Tensor ours = resize_like_pillow(img, w, h);
    ASSERT_EQ(ours.sizes(), (std::vector<int64_t>{h, w, 3}));
    EXPECT_LE(max_abs_diff(ours, reference_resize(img, w, h)), 1) << w << "x" << h;
  }
}

TEST(PillowResize, SameSizeIsACopyAndFlatStaysFlat) {
  at::Tensor img = at::randint(0, 256, {9, 7, 3}, at::kByte);
  at::Tensor same = resize_like_pillow(img, 7, 9);
  EXPECT_TRUE(same.equal(img));
  EXPECT_NE(same.data_ptr(), img.data_ptr());
  at::Tensor flat = at::full({30, 20, 3}, 173, at::kByte);
  EXPECT_TRUE(resize_like_pillow(flat, 11, 47).eq(173).all().item<bool>());
}

TEST(PillowResize, RejectsBadArguments) {
  at::Tensor img = at::zeros({4, 4, 3}, at::kByte);
  EXPECT_THROW(resize_like_pillow(img, 0, 4), Error);
  EXPECT_THROW(resize_like_pillow(img, 4, -1), Error);
  EXPECT_THROW(resize_like_pillow(img.to(at::kFloat), 2, 2), Error);
  EXPECT_THROW(resize_like_pillow(at::zeros({4, 4}, at::kByte), 2, 2), Error);
}

// ---- PNG writing -----------------------------------------------------------

TEST(WritePng, RoundTripsExactlyAndLeavesNoPartialFile) {
  test::TempDir dir;
  at::Tensor img = at::randint(0, 256, {13, 17, 3}, at::kByte);
  const std::string path = dir / "out.png";
  write_png(path, img);
  EXPECT_TRUE(read_image_rgb(path).equal(img));
  EXPECT_FALSE(fs::exists(path + ".partial"));
  // Overwrites, and accepts non-contiguous views.
  at::Tensor flipped = img.flip({1});
  write_png(path, flipped);
  EXPECT_TRUE(read_image_rgb(path).equal(flipped));
}

TEST(WritePng, RejectsBadInputAndUnwritablePaths) {
  test::TempDir dir;
  EXPECT_THROW(write_png(dir / "a.png", at::zeros({4, 4, 4}, at::kByte)), Error);
  EXPECT_THROW(write_png(dir / "a.png", at::zeros({4, 4, 3}, at::kFloat)), Error);
  EXPECT_THROW(write_png(dir / "no/such/dir/a.png", at::zeros({4, 4, 3}, at::kByte)), Error);
  EXPECT_FALSE(fs::exists(dir / "a.png"));
}

}  // namespace
}  // namespace ma
