#include "util/cpu_features.h"

#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace ma {
namespace {

// An ISA cap naming something below AVX-512 ("AVX2", "SSE41", "AVX"...).
bool capped_below_avx512(const char* variable) {
  const char* v = std::getenv(variable);
  if (!v || !*v || strncasecmp(v, "ALL", 3) == 0) return false;
  return strncasecmp(v, "AVX512", 6) != 0 && strncasecmp(v, "AVX10", 5) != 0;
}

}  // namespace

bool cpu_has_avx512_core() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")))
    return false;
  return !capped_below_avx512("ONEDNN_MAX_CPU_ISA") && !capped_below_avx512("DNNL_MAX_CPU_ISA");
#else
  return true;
#endif
}

}  // namespace ma
