#include "weights/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "weights/mapped_pages.h"

namespace ma {
namespace {

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  size_t size;
};

const DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4},  {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8}, {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},    {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo& dtype_for(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d;
  throw Error(std::string("safetensors: cannot store dtype ") + c10::toString(t));
}

// Keeps a file mapping alive for as long as any tensor aliases it.
struct Mapping {
  void* addr = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (addr == MAP_FAILED) return;
    unregister_file_mapping(addr);
    munmap(addr, size);
  }
};

TensorMap tensors_from(const SafetensorsHeader& h, const char* base, const DeviceDtype& opt,
                       std::shared_ptr<Mapping> keep_alive) {
  TensorMap out;
  for (const auto& e : h.entries) {
    const DtypeInfo* d = find_dtype(e.dtype);
    void* ptr = const_cast<char*>(base + h.data_offset + e.begin);
    at::Tensor view;
    if (keep_alive) {
      auto holder = keep_alive;
      view = at::from_blob(ptr, e.shape, [holder](void*) {}, at::TensorOptions().dtype(d->type));
    } else {
      view = at::from_blob(ptr, e.shape, at::TensorOptions().dtype(d->type)).clone();
    }
    at::Tensor t = convert_tensor(view, opt);
    out.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const char* data, size_t size, uint64_t file_size) {
  if (size < 8) throw Error("safetensors: file is shorter than its 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, data, 8);  // little-endian on every platform we build for
  if (n > file_size - 8 || n > size - 8)
    throw Error("safetensors: header length " + std::to_string(n) + " runs past the end of the file (" +
                std::to_string(file_size) + " bytes)");
  if (n > (100u << 20)) throw Error("safetensors: header of " + std::to_string(n) + " bytes is implausibly large");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data + 8, data + 8 + n);
  } catch (const std::exception& ex) {
    throw Error(std::string("safetensors: header is not valid JSON (") + ex.what() + ")");
  }
  if (!j.is_object()) throw Error("safetensors: header is not a JSON object");
  SafetensorsHeader h;
  h.data_offset = 8 + n;
  const uint64_t data_size = file_size - h.data_offset;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error("safetensors: __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) h.metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
        !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      throw Error("safetensors: tensor '" + name + "' has a malformed entry");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = v["dtype"].get<std::string>();
    const DtypeInfo* d = find_dtype(e.dtype);
    if (!d) throw Error("safetensors: tensor '" + name + "' has unsupported dtype " + e.dtype);
    // Count elements with overflow checks: a hostile shape must not make us allocate.
    unsigned __int128 elems = 1;
    for (const auto& s : v["shape"]) {
      if (!s.is_number_unsigned()) throw Error("safetensors: tensor '" + name + "' has a non-integer dimension");
      uint64_t dim = s.get<uint64_t>();
      e.shape.push_back(static_cast<int64_t>(dim));
      elems *= dim;
      // Each dimension must fit int64 too, even when another one is zero.
      if (dim > (uint64_t{1} << 62) || elems > (static_cast<unsigned __int128>(1) << 62))
        throw Error("safetensors: tensor '" + name + "' has an absurd shape");
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned()) throw Error("safetensors: tensor '" + name + "' has a bad data offset");
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      throw Error("safetensors: tensor '" + name + "' has offsets [" + std::to_string(e.begin) + ", " +
                  std::to_string(e.end) + ") outside the data area of " + std::to_string(data_size) + " bytes");
    if (elems * d->size != e.end - e.begin)
      throw Error("safetensors: tensor '" + name + "' shape needs " +
                  std::to_string(static_cast<uint64_t>(elems * d->size)) + " bytes but its offsets span " +
                  std::to_string(e.end - e.begin));
    h.entries.push_back(std::move(e));
  }
  // Overlap check on byte ranges sorted by start.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : h.entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end && by_offset[i]->begin != by_offset[i]->end)
      throw Error("safetensors: tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                  "' overlap");
  std::sort(h.entries.begin(), h.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return a.name < b.name; });
  return h;
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open " + path);
  f.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  char len[8] = {};
  if (file_size < 8 || !f.read(len, 8)) throw Error(path + ": safetensors: file is shorter than 8 bytes");
  uint64_t n = 0;
  std::memcpy(&n, len, 8);
  if (n > file_size - 8) throw Error(path + ": safetensors: header length runs past the end of the file");
  std::string buf(8 + n, '\0');
  std::memcpy(buf.data(), len, 8);
  if (!f.read(buf.data() + 8, static_cast<std::streamsize>(n))) throw Error(path + ": cannot read header");
  try {
    return parse_safetensors_header(buf.data(), buf.size(), file_size);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

TensorMap load_safetensors(const std::string& path, const DeviceDtype& opt) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error("cannot stat " + path);
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  if (map->size > 0) map->addr = mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->size == 0 || map->addr == MAP_FAILED) throw Error(path + ": safetensors: empty or unmappable file");
  register_file_mapping(map->addr, map->size);  // its pages may be handed back (mapped_pages.h)
  const char* base = static_cast<const char*>(map->addr);
  try {
    SafetensorsHeader h = parse_safetensors_header(base, map->size, map->size);
    return tensors_from(h, base, opt, map);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

TensorMap load_safetensors_from_memory(const char* data, size_t size, const DeviceDtype& opt) {
  SafetensorsHeader h = parse_safetensors_header(data, size, size);
  return tensors_from(h, data, opt, nullptr);
}

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<at::Tensor> contiguous;
  for (const auto& [name, t] : tensors) {
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const DtypeInfo& d = dtype_for(c.scalar_type());
    uint64_t bytes = static_cast<uint64_t>(c.numel()) * d.size;
    header[name] = {{"dtype", d.name}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(c);
  }
  std::string hs = header.dump();
  while ((8 + hs.size()) % 8) hs.push_back(' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw Error("cannot write " + tmp);
    uint64_t n = hs.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.write(hs.data(), static_cast<std::streamsize>(hs.size()));
    for (const auto& c : contiguous)
      f.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
    if (!f) throw Error("failed writing " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " to " + path);
}

}  // namespace ma
