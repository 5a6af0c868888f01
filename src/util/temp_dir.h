// A private temporary folder under $TMPDIR (or /tmp), removed with what is
// left in it when the object goes.
#pragma once
#include <string>

namespace ma {

class TempDir {
 public:
  TempDir() = default;  // none: path() is empty
  // Throws ma::Error (one line) when the folder cannot be made.
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ma
