#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"

#include "weights/safetensors.h"
#include "util/error.h"

namespace ma {
namespace {

TEST(Safetensors, LoadsGoldenFixture) {
  const auto& g = test::golden();
  ASSERT_TRUE(g.count("pipeline.ref_latents"));
  EXPECT_EQ(g.at("pipeline.ref_latents").sizes(), at::IntArrayRef({1, 4, 8, 8}));
  EXPECT_EQ(g.at("input.control_u8").scalar_type(), at::kByte);
  EXPECT_EQ(g.at("text.ids0").scalar_type(), at::kLong);
}

}  // namespace
}  // namespace ma

// ---- round trip and hostile files -------------------------------------------
// Hostile files are built byte by byte here; each must give one clear ma::Error
// from the file, header-only and in-memory readers, never a crash or huge allocation.

namespace ma {
namespace {

std::string image_of(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  auto dir = std::filesystem::temp_directory_path() / ("ma_safetensors_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Both readers must reject `bytes` with a one-line message containing `needle`.
void expect_rejected(const std::string& name, const std::string& bytes, const std::string& needle) {
  const std::string path = write_temp(name + ".safetensors", bytes);
  for (int reader = 0; reader < 3; ++reader) {
    try {
      if (reader == 0) load_safetensors(path);
      if (reader == 1) load_safetensors_from_memory(bytes.data(), bytes.size());
      if (reader == 2) read_safetensors_header(path);
      ADD_FAILURE() << name << ": reader " << reader << " accepted the file";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << name << ": reader " << reader << ": " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      if (reader != 1) {
        EXPECT_NE(msg.find(path), std::string::npos) << "error does not name the file: " << msg;
      }
    }
  }
}

const std::string kEightBytes(8, '\x01');

TEST(SafetensorsRoundTrip, KeepsDtypesValuesAndMetadata) {
  TensorMap in;
  in["f"] = at::arange(6, at::kFloat).reshape({2, 3}) / 7;
  in["h"] = at::arange(4, at::kFloat).to(at::kHalf);
  in["i"] = at::arange(5, at::kLong) - 2;
  in["b"] = at::arange(3, at::kInt).eq(1);
  const std::string path = write_temp("round.safetensors", "");
  save_safetensors(path, in, {{"format", "pt"}});
  SafetensorsHeader h = read_safetensors_header(path);
  EXPECT_EQ(h.metadata.at("format"), "pt");
  ASSERT_EQ(h.entries.size(), 4u);
  EXPECT_EQ(h.entries[0].name, "b");
  EXPECT_EQ(h.entries[0].dtype, "BOOL");
  EXPECT_EQ(h.entries[2].dtype, "F16");
  TensorMap out = load_safetensors(path);  // floats converted to float32, integers kept
  EXPECT_TRUE(at::equal(out.at("f"), in.at("f")));
  EXPECT_TRUE(at::equal(out.at("h"), in.at("h").to(at::kFloat)));
  EXPECT_TRUE(at::equal(out.at("i"), in.at("i")));
  EXPECT_EQ(out.at("b").scalar_type(), at::kBool);
}

TEST(SafetensorsHostile, EveryTruncationOfAValidFileIsAnError) {
  const std::string good = image_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kEightBytes);
  EXPECT_NO_THROW(load_safetensors_from_memory(good.data(), good.size()));
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_THROW(load_safetensors_from_memory(good.data(), n), Error) << n << " bytes";
  expect_rejected("truncated", good.substr(0, good.size() - 3), "outside the data area");
  expect_rejected("tiny", "abc", "shorter than");
}

TEST(SafetensorsHostile, HeaderLengthPastEndOfFile) {
  std::string bytes = image_of("{}", "");
  bytes[0] = '\x00';
  bytes[3] = '\x01';  // header length 2^24 in a 10-byte file
  expect_rejected("long_header", bytes, "runs past the end of the file");
  std::string huge(8, '\xff');  // 2^64 - 1
  expect_rejected("max_header", huge + "{}", "runs past the end");
}

TEST(SafetensorsHostile, OverlappingOffsets) {
  expect_rejected("overlap",
                  image_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                           kEightBytes),
                  "overlap");
}

TEST(SafetensorsHostile, OffsetsOutOfRange) {
  expect_rejected("past_end", image_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", kEightBytes),
                  "outside the data area");
  expect_rejected("reversed", image_of(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", kEightBytes),
                  "outside the data area");
  expect_rejected("negative", image_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", kEightBytes),
                  "bad data offset");
}

TEST(SafetensorsHostile, ShapeTimesDtypeDiffersFromByteLength) {
  expect_rejected("mismatch", image_of(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kEightBytes),
                  "shape needs 12 bytes but its offsets span 8");
  expect_rejected("f64", image_of(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", kEightBytes),
                  "shape needs 16 bytes");
}

TEST(SafetensorsHostile, GarbageAndNonUtf8Headers) {
  expect_rejected("garbage", image_of("\x01\x02not json at all", ""), "not valid JSON");
  expect_rejected("non_utf8", image_of("{\"a\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", ""),
                  "not valid JSON");
  expect_rejected("array", image_of("[1,2,3]", ""), "not a JSON object");
  expect_rejected("dtype", image_of(R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", "x"),
                  "unsupported dtype Q7");
  expect_rejected("entry", image_of(R"({"a":{"dtype":"F32","shape":"big","data_offsets":[0,8]}})", kEightBytes),
                  "malformed entry");
  expect_rejected("dim", image_of(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", kEightBytes),
                  "non-integer dimension");
}

TEST(SafetensorsHostile, AbsurdShapesAreRejectedBeforeAllocating) {
  expect_rejected("trillion",
                  image_of(R"({"a":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,8]}})", kEightBytes),
                  "shape needs 4000000000000 bytes");
  expect_rejected("overflow",
                  image_of(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
                           kEightBytes),
                  "absurd shape");
  // A dimension beyond int64 is absurd even when another dimension is zero.
  expect_rejected("huge_dim_times_zero",
                  image_of(R"({"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", ""),
                  "absurd shape");
}

}  // namespace
}  // namespace ma
