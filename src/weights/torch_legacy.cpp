// The legacy torch.save container (PyTorch < 1.6, torch/serialization.py
// _legacy_save): a stream of pickles followed by the raw storages. Files of
// that era are still common for metric networks (the LPIPS heads of 2018,
// torchvision's VGG16). The pickles go through the same restricted
// unpickler as zip archives; this file only finds where everything lies.
#include <cstring>
#include <map>

#include "weights/torch_pickle.h"
#include "util/error.h"

namespace ma {
namespace {

// pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) and pickle.dumps(1001, protocol=2).
const unsigned char kMagicPickle[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                      0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
const unsigned char kProtocolPickle[] = {0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e};

}  // namespace

TensorMap parse_legacy_torch_save(const at::Tensor& bytes) {
  const char* data = static_cast<const char*>(bytes.data_ptr());
  const size_t size = static_cast<size_t>(bytes.numel());
  size_t pos = 0;
  auto expect = [&](const unsigned char* want, size_t n, const char* what) {
    if (size - pos < n || std::memcmp(data + pos, want, n) != 0)
      throw Error(std::string("legacy torch.save file without the expected ") + what);
    pos += n;
  };
  expect(kMagicPickle, sizeof kMagicPickle, "magic number");
  expect(kProtocolPickle, sizeof kProtocolPickle, "protocol version 1001");
  StorageRecordReader none = [](const std::string&, uint64_t) -> at::Tensor {
    throw Error("legacy system-info pickle refers to tensor storage");
  };
  size_t used = 0;
  parse_pickle_state_dict(data + pos, size - pos, none, &used);  // sys_info: {little_endian, type_sizes, ...}
  pos += used;

  // The records follow the state-dict pickle, whose length is known only
  // after interpreting it: a first pass serves placeholder bytes (bounded by
  // the file, which holds every storage) and notes each storage's size.
  const size_t dict_at = pos;
  std::map<std::string, uint64_t> wanted;
  uint64_t total = 0;  // distinct storages: all of them must fit in the file
  StorageRecordReader placeholder = [&](const std::string& key, uint64_t min_bytes) {
    total += min_bytes;
    if (min_bytes > size || total > size) throw Error("storage '" + key + "' does not fit in the file");
    wanted[key] = min_bytes;
    return bytes.narrow(0, 0, static_cast<int64_t>(min_bytes));
  };
  parse_pickle_state_dict(data + dict_at, size - dict_at, placeholder, &used);
  pos += used;
  const std::vector<std::string> keys = parse_pickle_string_list(data + pos, size - pos, &used);
  pos += used;

  std::map<std::string, std::pair<uint64_t, uint64_t>> records;  // key -> (offset, bytes)
  for (const std::string& key : keys) {
    if (size - pos < 8) throw Error("legacy torch.save file is truncated before storage '" + key + "'");
    uint64_t numel = 0;
    for (int k = 7; k >= 0; --k) numel = (numel << 8) | static_cast<unsigned char>(data[pos + static_cast<size_t>(k)]);
    pos += 8;
    auto it = wanted.find(key);
    if (it == wanted.end()) throw Error("legacy storage '" + key + "' is not used by any tensor");
    const uint64_t n = it->second;
    const bool plausible = numel == 0 ? n == 0 : n % numel == 0 && (n / numel == 1 || n / numel == 2 ||
                                                                    n / numel == 4 || n / numel == 8);
    if (!plausible)
      throw Error("legacy storage '" + key + "' stores " + std::to_string(numel) + " elements where its tensors need " +
                  std::to_string(n) + " bytes");
    if (size - pos < n) throw Error("legacy torch.save file is truncated inside storage '" + key + "'");
    records[key] = {pos, n};
    pos += n;
  }
  StorageRecordReader from_file = [&](const std::string& key, uint64_t min_bytes) {
    auto it = records.find(key);
    if (it == records.end()) throw Error("legacy storage '" + key + "' is missing from the key list");
    if (it->second.second < min_bytes) throw Error("legacy storage '" + key + "' is too small");
    return bytes.narrow(0, static_cast<int64_t>(it->second.first), static_cast<int64_t>(it->second.second));
  };
  return parse_pickle_state_dict(data + dict_at, size - dict_at, from_file, &used);
}

}  // namespace ma
