#include "bench/memory.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

namespace ma::bench {

namespace {

// A "Key:   123 kB" line of /proc/self/status, in bytes; -1 if absent.
int64_t status_kb_field(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    std::istringstream fields(line.substr(prefix.size()));
    int64_t kb = -1;
    fields >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}

}  // namespace

int64_t current_rss_bytes() {
  const int64_t v = status_kb_field("VmRSS");
  return v < 0 ? 0 : v;
}

int64_t peak_rss_bytes() {
  const int64_t v = status_kb_field("VmHWM");
  if (v >= 0) return v;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace ma::bench
