// read_native_size / write_native_size on folders made in a temp dir.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "temp_dir.h"
#include "test_util.h"
#include "util/error.h"
#include "weights/model_info.h"

namespace ma {
namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using test::error_of;

TEST(ModelInfo, AbsentFileIsNoNativeSize) {
  test::TempDir dir;
  EXPECT_FALSE(read_native_size(dir.path()).has_value());
  EXPECT_FALSE(read_native_size(dir / "no-such-folder").has_value());
}

TEST(ModelInfo, RoundTrip) {
  test::TempDir dir;
  write_native_size(dir.path(), {64, 48});
  std::optional<NativeSize> size = read_native_size(dir.path());
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(size->width, 64);
  EXPECT_EQ(size->height, 48);
  EXPECT_FALSE(std::filesystem::exists(dir / "magicanimate.json.partial"));

  write_native_size(dir.path(), {256, 256});  // rewriting replaces the sizes
  EXPECT_EQ(read_native_size(dir.path())->width, 256);
  EXPECT_EQ(read_native_size(dir.path())->height, 256);
}

TEST(ModelInfo, WriteKeepsOtherKeys) {
  test::TempDir dir;
  write_text(dir / kModelInfoFile, R"({"trained_steps": 300, "native_width": 512, "note": {"by": "train"}})");
  write_native_size(dir.path(), {128, 64});
  nlohmann::json j = nlohmann::json::parse(read_text(dir / kModelInfoFile));
  EXPECT_EQ(j["trained_steps"], 300);
  EXPECT_EQ(j["note"]["by"], "train");
  EXPECT_EQ(j["native_width"], 128);
  EXPECT_EQ(j["native_height"], 64);
}

TEST(ModelInfo, BrokenFileIsAnErrorNamingIt) {
  test::TempDir dir;
  const std::string path = dir / kModelInfoFile;
  const std::pair<const char*, const char*> cases[] = {
      {"{not json", "not valid JSON"},
      {"[64, 64]", "not a JSON object"},
      {R"({"native_height": 64})", "native_width"},
      {R"({"native_width": 64})", "native_height"},
      {R"({"native_width": 0, "native_height": 64})", "positive multiple of 8"},
      {R"({"native_width": -64, "native_height": 64})", "positive multiple of 8"},
      {R"({"native_width": 64, "native_height": 60})", "positive multiple of 8"},
      {R"({"native_width": "64", "native_height": 64})", "must be an integer"},
      {R"({"native_width": 64.5, "native_height": 64})", "must be an integer"},
  };
  for (const auto& [text, problem] : cases) {
    write_text(path, text);
    const std::string message = error_of([&] { read_native_size(dir.path()); });
    EXPECT_NE(message.find(path), std::string::npos) << text << " -> " << message;
    EXPECT_NE(message.find(problem), std::string::npos) << text << " -> " << message;
  }
}

TEST(ModelInfo, WriteRefusesBadSizes) {
  test::TempDir dir;
  EXPECT_NE(error_of([&] { write_native_size(dir.path(), {60, 64}); }).find("native_width"), std::string::npos);
  EXPECT_NE(error_of([&] { write_native_size(dir.path(), {64, 0}); }).find("native_height"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / kModelInfoFile));
}

}  // namespace
}  // namespace ma
