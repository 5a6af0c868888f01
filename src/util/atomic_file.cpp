#include "util/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "util/error.h"

namespace ma {

std::string partial_path(const std::string& path) { return path + ".partial"; }

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  const std::string tmp = partial_path(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  bool ok = std::fwrite(data, 1, size, f) == size;
  ok = (std::fclose(f) == 0) && ok;
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("cannot write '" + path + "': " + (ok ? ec.message() : std::string("write failed")));
  }
}

}  // namespace ma
