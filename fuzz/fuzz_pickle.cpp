// libFuzzer target: a torch.save zip archive (input starting with "PK") or a
// bare state-dict pickle whose storages are made up on demand. Any exception
// other than ma::Error escapes and is reported as a crash.
#include <cstdint>
#include <cstring>

#include "fuzz_touch.h"
#include "weights/torch_pickle.h"
#include "util/error.h"

namespace {

// Storages for bare pickles: any size up to 1 MiB, filled with a pattern so
// bool/float reinterpretation sees varied bytes.
at::Tensor made_up_record(const std::string& key, uint64_t min_bytes) {
  if (min_bytes > (uint64_t{1} << 20)) throw ma::Error("record '" + key + "' too large for the fuzzer");
  at::Tensor t = at::empty({static_cast<int64_t>(min_bytes)}, at::kByte);
  auto* p = static_cast<uint8_t*>(t.data_ptr());
  for (uint64_t i = 0; i < min_bytes; ++i) p[i] = static_cast<uint8_t>(i * 37 + key.size());
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  try {
    if (size >= 2 && std::memcmp(bytes, "PK", 2) == 0)
      ma::fuzz::touch_tensors(ma::load_torch_pickle_from_memory(bytes, size));
    else
      ma::fuzz::touch_tensors(ma::parse_pickle_state_dict(bytes, size, made_up_record));
  } catch (const ma::Error&) {
  }
  return 0;
}
