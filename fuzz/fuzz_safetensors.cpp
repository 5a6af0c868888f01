// libFuzzer target: a safetensors file image. Any exception other than
// ma::Error escapes and is reported as a crash.
#include <cstdint>
#include <cstring>

#include "fuzz_touch.h"
#include "weights/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  try {
    ma::SafetensorsHeader h = ma::parse_safetensors_header(bytes, size, size);
    // Every accepted byte range must lie inside the input: read it here, instrumented.
    volatile uint8_t sink = 0;
    for (const auto& e : h.entries)
      for (uint64_t i = h.data_offset + e.begin; i < h.data_offset + e.end; ++i) sink = sink ^ data[i];
    (void)sink;
    ma::fuzz::touch_tensors(ma::load_safetensors_from_memory(bytes, size));
  } catch (const ma::Error&) {
  }
  return 0;
}
