// Reader for the .safetensors format (8-byte little-endian header length,
// JSON header, raw little-endian tensor data). The whole header is validated
// before any tensor is touched: well-formed JSON, known dtypes, offsets inside
// the data area and non-overlapping, shape x element size == byte length.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "weights/tensor_map.h"

namespace ma {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as written in the file: F32, F16, BF16, I64, ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets relative to the data area
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;           // sorted by name
  std::map<std::string, std::string> metadata;     // "__metadata__"
  uint64_t data_offset = 0;                        // 8 + header length
};

// Parses and validates a header held in memory (`file_size` is the size of the
// whole file). Throws ma::Error naming the problem.
SafetensorsHeader parse_safetensors_header(const char* data, size_t size, uint64_t file_size);

// Reads only the header of a file (cheap: for inspect / check-models).
SafetensorsHeader read_safetensors_header(const std::string& path);

// Memory-maps the file and returns every tensor converted to `opt`. Tensors
// already in the requested dtype on CPU alias the (copy-on-write) mapping.
TensorMap load_safetensors(const std::string& path, const DeviceDtype& opt = {});

// Parses a safetensors file image already in memory (used by the fuzzer).
TensorMap load_safetensors_from_memory(const char* data, size_t size, const DeviceDtype& opt = {});

// Writes tensors as .safetensors (used by tests and tools).
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace ma
