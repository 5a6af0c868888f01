// Test helpers that build torch.save-style checkpoints byte by byte, so the
// loader tests can craft valid and hostile files without Python at test time.
#pragma once
#include <unistd.h>
#include <zip.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ma::test {

// Emits pickle opcodes (protocol 2, as torch.save writes them).
class PickleWriter {
 public:
  PickleWriter& proto() { return op(0x80).byte(2); }
  PickleWriter& op(unsigned char c) { return byte(c); }
  PickleWriter& mark() { return op('('); }
  PickleWriter& empty_dict() { return op('}'); }
  PickleWriter& empty_tuple() { return op(')'); }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& setitem() { return op('s'); }
  PickleWriter& setitems() { return op('u'); }
  PickleWriter& reduce() { return op('R'); }
  PickleWriter& binpersid() { return op('Q'); }
  PickleWriter& stop() { return op('.'); }
  PickleWriter& str(const std::string& s) {
    op('X').le(s.size(), 4);
    bytes_ += s;
    return *this;
  }
  PickleWriter& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').byte(static_cast<unsigned char>(v));
    if (v >= INT32_MIN && v <= INT32_MAX) return op('J').le(static_cast<uint32_t>(v), 4);
    return op(0x8a).byte(8).le(static_cast<uint64_t>(v), 8);  // LONG1
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    op('c');
    bytes_ += module + "\n" + name + "\n";
    return *this;
  }
  PickleWriter& ints_tuple(const std::vector<int64_t>& v) {
    mark();
    for (int64_t x : v) integer(x);
    return tuple();
  }
  // torch._utils._rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& storage_class, const std::string& key, int64_t storage_numel,
                       int64_t offset, const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2");
    mark();
    mark().str("storage").global("torch", storage_class).str(key).str("cpu").integer(storage_numel).tuple();
    binpersid();
    integer(offset).ints_tuple(size).ints_tuple(stride);
    op(0x89);  // NEWFALSE: requires_grad
    global("collections", "OrderedDict").empty_tuple().reduce();
    tuple();
    return reduce();
  }
  const std::string& bytes() const { return bytes_; }

 private:
  PickleWriter& byte(unsigned char c) {
    bytes_.push_back(static_cast<char>(c));
    return *this;
  }
  PickleWriter& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) byte(static_cast<unsigned char>(v >> (8 * i)));
    return *this;
  }
  std::string bytes_;
};

inline std::string float_bytes(const std::vector<float>& v) {
  std::string s(v.size() * sizeof(float), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// Writes a zip with the given records (name -> content), stored uncompressed
// like torch.save does.
inline void write_zip(const std::string& path, const std::map<std::string, std::string>& records) {
  std::filesystem::remove(path);
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw std::runtime_error("cannot create " + path);
  for (const auto& [name, content] : records) {
    void* copy = std::malloc(content.size() ? content.size() : 1);
    std::memcpy(copy, content.data(), content.size());
    zip_source_t* src = zip_source_buffer(z, copy, content.size(), 1);  // libzip frees the copy
    zip_int64_t idx = zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE);
    if (idx < 0) throw std::runtime_error("cannot add " + name);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) throw std::runtime_error("cannot write " + path);
}

// A torch.save archive: <archive>/data.pkl plus <archive>/data/<key> storages.
inline void write_torch_zip(const std::string& path, const std::string& pickle,
                            const std::map<std::string, std::string>& storages, const std::string& archive = "archive") {
  std::map<std::string, std::string> records{{archive + "/data.pkl", pickle}, {archive + "/version", "3\n"}};
  for (const auto& [key, bytes] : storages) records[archive + "/data/" + key] = bytes;
  write_zip(path, records);
}

// A fresh, empty directory for one test's files.
inline std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ma_loaders_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace ma::test
