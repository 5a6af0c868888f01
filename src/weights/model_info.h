// What a models folder says about itself beyond its weights: the resolution
// its weights were trained at (written by `train`), so `animate`, `serve` and
// the page can default to it instead of 512.
//   <models_dir>/magicanimate.json  {"native_width": W, "native_height": H, ...}
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace ma {

struct NativeSize {
  int64_t width = 0, height = 0;
};

constexpr const char* kModelInfoFile = "magicanimate.json";

// nullopt when the file is absent. A present but broken file (bad JSON,
// missing, non-positive or non-multiple-of-8 sizes) -> ma::Error naming the
// file and the problem.
std::optional<NativeSize> read_native_size(const std::string& models_dir);

// Writes the file atomically (write_file_atomically), keeping the other keys
// already in it. Throws ma::Error for a size that read_native_size would refuse.
void write_native_size(const std::string& models_dir, const NativeSize& size);

}  // namespace ma
