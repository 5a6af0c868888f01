// The zip side of load_torch_pickle: finds `<archive>/data.pkl`, hands it to
// the restricted unpickler and serves `<archive>/data/<key>` storage records,
// checking each record's size before anything of that size is allocated.
#include <zip.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "weights/torch_pickle.h"
#include "util/error.h"

namespace ma {
namespace {

// Deflate cannot expand data more than ~1032x; anything claiming more is forged.
constexpr uint64_t kMaxCompressionRatio = 1100;

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }  // read-only: never write back
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

std::string zip_error_text(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string text = zip_error_strerror(&err);
  zip_error_fini(&err);
  return text;
}

// torch.save wrote zips since PyTorch 1.6; older files are a bare pickle
// stream (true: read with parse_legacy_torch_save).
bool is_legacy_format(const char* head, size_t n) {
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return false;
  if (n >= 1 && static_cast<unsigned char>(head[0]) == 0x80) return true;
  throw Error("not a torch.save zip archive or legacy torch.save file");
}

// A legacy file is read whole: its tensors are views of these bytes.
TensorMap load_legacy_file(std::ifstream& f, uint64_t size) {
  at::Tensor bytes = at::empty({static_cast<int64_t>(size)}, at::kByte);
  f.seekg(0);
  f.read(static_cast<char*>(bytes.data_ptr()), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(f.gcount()) != size) throw Error("cannot read the file");
  return parse_legacy_torch_save(bytes);
}

class TorchArchive {
 public:
  TorchArchive(ZipPtr zip, uint64_t archive_size) : zip_(std::move(zip)), archive_size_(archive_size) {
    find_prefix();
  }

  TensorMap load() {
    const uint64_t pkl_size = record_size(prefix_ + "data.pkl");
    at::Tensor pkl = read(prefix_ + "data.pkl", pkl_size);
    check_byte_order();
    StorageRecordReader reader = [this](const std::string& key, uint64_t min_bytes) {
      return storage(key, min_bytes);
    };
    return parse_pickle_state_dict(reinterpret_cast<const char*>(pkl.data_ptr()),
                                   static_cast<size_t>(pkl.numel()), reader);
  }

 private:
  // The archive folder is whatever directory holds data.pkl (torch names it
  // after the file, e.g. "diffusion_pytorch_model/").
  void find_prefix() {
    const zip_int64_t n = zip_get_num_entries(zip_.get(), 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(zip_.get(), static_cast<zip_uint64_t>(i), 0);
      if (!name) continue;
      std::string s = name;
      const size_t slash = s.find('/');
      if (slash != std::string::npos && s.compare(slash, std::string::npos, "/data.pkl") == 0) {
        prefix_ = s.substr(0, slash + 1);
        return;
      }
    }
    throw Error("zip archive has no <name>/data.pkl record (not a torch.save checkpoint)");
  }

  zip_int64_t locate(const std::string& name) const {
    return zip_name_locate(zip_.get(), name.c_str(), 0);
  }

  uint64_t record_size(const std::string& name) const {
    const zip_int64_t index = locate(name);
    if (index < 0) throw Error("zip record '" + name + "' is missing");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_.get(), static_cast<zip_uint64_t>(index), 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
      throw Error("cannot read zip record '" + name + "'");
    if (st.comp_size > archive_size_)
      throw Error("zip record '" + name + "' claims to be larger than the archive");
    const bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
    const uint64_t limit = stored ? archive_size_ : st.comp_size * kMaxCompressionRatio + 1024;
    if (st.size > limit)
      throw Error("zip record '" + name + "' claims an implausible size of " + std::to_string(st.size) + " bytes");
    return st.size;
  }

  // Reads the first `bytes` bytes of a record into a fresh (aligned) tensor.
  at::Tensor read(const std::string& name, uint64_t bytes) const {
    const zip_int64_t index = locate(name);
    zip_file_t* f = index < 0 ? nullptr : zip_fopen_index(zip_.get(), static_cast<zip_uint64_t>(index), 0);
    if (!f) throw Error("cannot open zip record '" + name + "'");
    at::Tensor out = at::empty({static_cast<int64_t>(bytes)}, at::kByte);
    auto* dst = static_cast<char*>(out.data_ptr());
    uint64_t done = 0;
    while (done < bytes) {
      const zip_int64_t got = zip_fread(f, dst + done, bytes - done);
      if (got <= 0) break;
      done += static_cast<uint64_t>(got);
    }
    zip_fclose(f);
    if (done != bytes) throw Error("zip record '" + name + "' is truncated or corrupt");
    return out;
  }

  at::Tensor storage(const std::string& key, uint64_t min_bytes) const {
    if (key.empty() || key.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-") !=
                           std::string::npos)
      throw Error("storage key '" + key + "' is not a plain record name");
    const std::string name = prefix_ + "data/" + key;
    const uint64_t size = record_size(name);
    if (size < min_bytes)
      throw Error("zip record '" + name + "' holds " + std::to_string(size) + " bytes but its tensor needs " +
                  std::to_string(min_bytes));
    return read(name, min_bytes);
  }

  // Written by PyTorch >= 1.13 on every save; its absence means little-endian.
  void check_byte_order() const {
    const std::string name = prefix_ + "byteorder";
    if (locate(name) < 0) return;
    const uint64_t size = record_size(name);
    if (size > 16) throw Error("zip record '" + name + "' is malformed");
    at::Tensor t = read(name, size);
    std::string order(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(size));
    if (order != "little") throw Error("checkpoint byte order '" + order + "' is not supported");
  }

  ZipPtr zip_;
  uint64_t archive_size_;
  std::string prefix_;
};

}  // namespace

TensorMap load_torch_pickle(const std::string& path) {
  try {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("cannot open file");
    char head[4] = {};
    f.read(head, 4);
    const bool legacy = is_legacy_format(head, static_cast<size_t>(f.gcount()));
    f.clear();
    f.seekg(0, std::ios::end);
    const uint64_t size = static_cast<uint64_t>(f.tellg());
    if (legacy) return load_legacy_file(f, size);
    f.close();
    int code = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!z) throw Error("cannot read zip archive: " + zip_error_text(code));
    return TorchArchive(ZipPtr(z), size).load();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

TensorMap load_torch_pickle_from_memory(const char* data, size_t size, const std::string& name) {
  try {
    if (is_legacy_format(data, size)) {
      at::Tensor bytes = at::empty({static_cast<int64_t>(size)}, at::kByte);
      std::memcpy(bytes.data_ptr(), data, size);
      return parse_legacy_torch_save(bytes);
    }
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(data, size, 0, &err);
    if (!src) {
      zip_error_fini(&err);
      throw Error("cannot read zip archive from memory");
    }
    zip_t* z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
      std::string why = zip_error_strerror(&err);
      zip_error_fini(&err);
      zip_source_free(src);
      throw Error("cannot read zip archive: " + why);
    }
    zip_error_fini(&err);
    return TorchArchive(ZipPtr(z), size).load();
  } catch (const Error& e) {
    throw Error(name + ": " + e.what());
  }
}

}  // namespace ma
