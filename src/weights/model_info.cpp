#include "weights/model_info.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/atomic_file.h"
#include "util/error.h"

namespace ma {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string info_path(const std::string& models_dir) { return (fs::path(models_dir) / kModelInfoFile).string(); }

// The whole file as a JSON object; nullopt when there is no file.
std::optional<json> read_info(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read it");
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  if (!j.is_object()) throw Error(path + ": not a JSON object");
  return j;
}

void check_side(const std::string& path, const char* key, int64_t v) {
  if (v <= 0 || v % 8 != 0)
    throw Error(path + ": " + key + " must be a positive multiple of 8, got " + std::to_string(v));
}

int64_t side(const std::string& path, const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(path + ": no \"" + key + "\"");
  if (!it->is_number_integer()) throw Error(path + ": \"" + key + "\" must be an integer, got " + it->dump());
  const int64_t v = it->get<int64_t>();
  check_side(path, key, v);
  return v;
}

}  // namespace

std::optional<NativeSize> read_native_size(const std::string& models_dir) {
  const std::string path = info_path(models_dir);
  std::optional<json> j = read_info(path);
  if (!j) return std::nullopt;
  return NativeSize{side(path, *j, "native_width"), side(path, *j, "native_height")};
}

void write_native_size(const std::string& models_dir, const NativeSize& size) {
  const std::string path = info_path(models_dir);
  check_side(path, "native_width", size.width);
  check_side(path, "native_height", size.height);
  json j = read_info(path).value_or(json::object());
  j["native_width"] = size.width;
  j["native_height"] = size.height;
  const std::string text = j.dump(2) + "\n";
  write_file_atomically(path, text.data(), text.size());
}

}  // namespace ma
