// Writing a file so that readers never see it half-written: data goes to
// "<path>.partial" and is renamed over `path` only once complete.
#pragma once
#include <string>

namespace ma {

std::string partial_path(const std::string& path);

// Writes `size` bytes to partial_path(path), then renames it to `path`.
// Throws ma::Error naming `path`; no partial file is left behind.
void write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace ma
