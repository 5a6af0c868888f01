#include "weights/torch_pickle_write.h"

#include <zip.h>

#include <cstring>
#include <filesystem>

#include "util/atomic_file.h"
#include "util/error.h"

namespace ma {
namespace {

class Pickle {
 public:
  void op(char c) { bytes_.push_back(c); }
  void str(const std::string& s) {
    op('X');
    le(s.size(), 4);
    bytes_ += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      le(static_cast<uint32_t>(v), 4);
    } else {
      op('\x8a');  // LONG1, 8 bytes
      le(8, 1);
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    bytes_ += module + "\n" + name + "\n";
  }
  void ints(at::IntArrayRef v) {
    op('(');
    for (int64_t x : v) integer(x);
    op('t');
  }
  // torch._utils._rebuild_tensor_v2(persistent_load(("storage", cls, key, "cpu", numel)), 0, size, stride, False, OrderedDict())
  void tensor(const std::string& storage_class, const std::string& key, const at::Tensor& t) {
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    str("storage");
    global("torch", storage_class);
    str(key);
    str("cpu");
    integer(t.numel());
    op('t');
    op('Q');  // BINPERSID
    integer(0);
    ints(t.sizes());
    ints(t.strides());
    op('\x89');  // NEWFALSE: requires_grad
    global("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
  }
  std::string bytes_;

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<char>(v >> (8 * i)));
  }
};

std::string storage_class(const at::Tensor& t, const std::string& key) {
  switch (t.scalar_type()) {
    case at::kFloat: return "FloatStorage";
    case at::kHalf: return "HalfStorage";
    case at::kBFloat16: return "BFloat16Storage";
    case at::kDouble: return "DoubleStorage";
    case at::kLong: return "LongStorage";
    default: throw Error("cannot write tensor " + key + " of dtype " + std::string(c10::toString(t.scalar_type())));
  }
}

}  // namespace

void save_torch_state_dict(const std::string& path, const TensorMap& tensors, const std::string& wrap) {
  // Python's torch.load takes the archive folder name from the first entry.
  const std::string archive = std::filesystem::path(path).stem().string().empty() ? "archive"
                                                                                   : std::filesystem::path(path).stem().string();
  std::vector<at::Tensor> storages;
  Pickle p;
  p.op('\x80');
  p.bytes_.push_back(2);
  p.op('}');
  if (!wrap.empty()) {
    p.str(wrap);
    p.op('}');
  }
  if (!tensors.empty()) {
    p.op('(');
    for (const auto& [key, tensor] : tensors) {
      at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
      const std::string cls = storage_class(t, key);
      p.str(key);
      p.tensor(cls, std::to_string(storages.size()), t);
      storages.push_back(t);
    }
    p.op('u');  // SETITEMS
  }
  if (!wrap.empty()) p.op('s');
  p.op('.');

  const std::string tmp = partial_path(path);
  std::filesystem::remove(tmp);
  int err = 0;
  zip_t* z = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw Error("cannot create " + tmp);
  auto add = [&](const std::string& name, const void* data, size_t size) {
    zip_source_t* src = zip_source_buffer(z, data, size, 0);  // borrowed until zip_close
    const zip_int64_t idx = src ? zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE) : -1;
    if (idx < 0) {
      if (src) zip_source_free(src);
      zip_discard(z);
      std::filesystem::remove(tmp);
      throw Error("cannot write " + path + ": adding " + name + " failed");
    }
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);  // stored, as torch.save does
  };
  static const char kVersion[] = "3\n";
  add(archive + "/data.pkl", p.bytes_.data(), p.bytes_.size());
  add(archive + "/version", kVersion, 2);
  for (size_t i = 0; i < storages.size(); ++i)
    add(archive + "/data/" + std::to_string(i), storages[i].data_ptr(), storages[i].nbytes());
  if (zip_close(z) != 0) {
    zip_discard(z);
    std::filesystem::remove(tmp);
    throw Error("cannot write " + path);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw Error("cannot write " + path + ": " + ec.message());
  }
}

}  // namespace ma
