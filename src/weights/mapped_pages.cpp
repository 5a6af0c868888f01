#include "weights/mapped_pages.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <vector>
#include <map>
#include <mutex>

namespace ma {
namespace {

enum class RegionState { kUnchecked, kReadOnly, kWritten };

struct Region {
  char* begin = nullptr;
  size_t size = 0;
  RegionState state = RegionState::kUnchecked;
};

// Both live for the whole process, never destroyed: a mapping held by a
// static (a test's cached fixture, say) is unmapped, and unregistered, during
// static destruction, possibly after statics built later than it.
std::mutex& registry_mutex() {
  static auto* m = new std::mutex;
  return *m;
}

// By start address; mappings never overlap.
std::map<char*, Region>& registry() {
  static auto* r = new std::map<char*, Region>;
  return *r;
}

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// The region holding `p`, or nullptr. Caller holds the mutex.
Region* region_of(const char* p) {
  auto& r = registry();
  auto it = r.upper_bound(const_cast<char*>(p));
  if (it == r.begin()) return nullptr;
  --it;
  Region& region = it->second;
  return p < region.begin + region.size ? &region : nullptr;
}

// Whether any page of the region was written (a private mapping's written page
// is anonymous: /proc/self/pagemap shows it present or swapped without bit 61,
// "file page or shared anonymous"). Where pagemap cannot be read (no /proc)
// the answer is "no": loading never writes weights, and the mapping is
// read-only from the first release on.
bool has_written_pages(const Region& region) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return false;
  const size_t ps = page_size();
  const size_t first = reinterpret_cast<uintptr_t>(region.begin) / ps;
  const size_t pages = (region.size + ps - 1) / ps;
  constexpr size_t kChunk = 1 << 16;
  std::vector<uint64_t> entries(kChunk);
  bool written = false;
  for (size_t done = 0; done < pages && !written;) {
    const size_t n = std::min(kChunk, pages - done);
    const ssize_t got = ::pread(fd, entries.data(), n * 8, static_cast<off_t>((first + done) * 8));
    if (got <= 0) break;
    const size_t read = static_cast<size_t>(got) / 8;
    for (size_t i = 0; i < read; ++i) {
      const uint64_t e = entries[i];
      const bool present_or_swapped = (e >> 63 & 1) || (e >> 62 & 1);
      if (present_or_swapped && !(e >> 61 & 1)) {
        written = true;
        break;
      }
    }
    done += read;
  }
  ::close(fd);
  return written;
}

// Checks an unchecked region once: written ones are never released; clean
// ones become read-only, so no later write can be dropped unseen.
bool releasable(Region& region) {
  if (region.state == RegionState::kUnchecked) {
    if (has_written_pages(region) || mprotect(region.begin, region.size, PROT_READ) != 0)
      region.state = RegionState::kWritten;
    else
      region.state = RegionState::kReadOnly;
  }
  return region.state == RegionState::kReadOnly;
}

}  // namespace

void register_file_mapping(void* addr, size_t size) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  char* begin = static_cast<char*>(addr);
  registry()[begin] = Region{begin, size, RegionState::kUnchecked};
}

void unregister_file_mapping(void* addr) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(static_cast<char*>(addr));
}

namespace {
// The byte range of a CPU tensor's data, if it is contiguous (weights are).
bool data_range(const at::Tensor& t, const char** begin, const char** end) {
  if (!t.defined() || !t.device().is_cpu() || !t.is_contiguous() || t.numel() == 0) return false;
  *begin = static_cast<const char*>(t.data_ptr());
  *end = *begin + t.nbytes();
  return true;
}
}  // namespace

int64_t file_backed_bytes(const at::Tensor& t) {
  const char *b = nullptr, *e = nullptr;
  if (!data_range(t, &b, &e)) return 0;
  std::lock_guard<std::mutex> lock(registry_mutex());
  const Region* r = region_of(b);
  if (!r) return 0;
  return static_cast<int64_t>(std::min<const char*>(e, r->begin + r->size) - b);
}

PageRelease release_file_pages(const std::vector<at::Tensor>& tensors) {
  std::vector<std::pair<const char*, const char*>> ranges;
  for (const at::Tensor& t : tensors) {
    const char *b = nullptr, *e = nullptr;
    if (data_range(t, &b, &e)) ranges.emplace_back(b, e);
  }
  // Neighbouring tensors of a file share pages: merged, their pages go whole.
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<const char*, const char*>> merged;
  for (const auto& r : ranges)
    if (!merged.empty() && r.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, r.second);
    else
      merged.push_back(r);
  PageRelease out;
  const uintptr_t ps = page_size();
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (const auto& [b, e] : merged) {
    Region* region = region_of(b);
    if (!region) continue;
    const char* end = std::min<const char*>(e, region->begin + region->size);
    const auto bytes = static_cast<int64_t>(end - b);
    out.file_backed_bytes += bytes;
    if (!releasable(*region)) {
      out.skipped_bytes += bytes;
      continue;
    }
    // Whole pages only: a page shared with a tensor outside the range stays.
    const uintptr_t first = (reinterpret_cast<uintptr_t>(b) + ps - 1) / ps * ps;
    const uintptr_t last = reinterpret_cast<uintptr_t>(end) / ps * ps;
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }
  return out;
}

}  // namespace ma
