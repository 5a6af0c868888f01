// A models folder that records a native size: links to the fixture models'
// parts plus a magicanimate.json, made in a test's temp folder (the fixture
// folder itself records none, so the 512 default stays testable there).
#pragma once
#include <filesystem>
#include <string>

#include "test_util.h"
#include "weights/model_info.h"

namespace ma::test {

inline void make_native_models(const std::string& dir, const NativeSize& native) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  for (const auto& part : fs::directory_iterator(models_dir()))
    fs::create_directory_symlink(fs::absolute(part.path()), fs::path(dir) / part.path().filename());
  write_native_size(dir, native);
}

}  // namespace ma::test
