#include "util/cpu_allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

namespace ma {

namespace {

constexpr size_t kLargeBlock = size_t{1} << 20;  // smaller blocks go to the default allocator
constexpr size_t kHugePage = size_t{2} << 20;    // sizes rounded up to whole huge pages

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

struct Block {
  void* base = nullptr;  // what mmap returned
  size_t length = 0;     // what was mapped
  void* data = nullptr;  // huge-page aligned start handed out
  size_t size = 0;       // usable bytes (the size class)
};

class CachingAllocator final : public c10::Allocator {
 public:
  explicit CachingAllocator(c10::Allocator* fallback) : fallback_(fallback) {}

  // (No `override` here: the virtual interface differs between libtorch
  // versions -- allocate() lost its const in 2.x and copy_data() became pure
  // virtual -- so both spellings are defined.)
  c10::DataPtr allocate(size_t n) const { return allocate_block(n); }
  c10::DataPtr allocate(size_t n) { return allocate_block(n); }

  c10::DataPtr allocate_block(size_t n) const {
    if (n < kLargeBlock) return fallback_->allocate(n);
    size_t size = round_up(n, kHugePage);
    Block* block = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // The same size class, else the smallest cached block at most 25% larger.
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first <= size + size / 4) {
        size = it->first;
        block = it->second;
        free_.erase(it);
        cached_ -= size;
        ++hits_;
      } else {
        ++misses_;
      }
    }
    if (!block) block = map_block(size);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(block->data, block);
    }
    // Context == data, as raw_allocate() (oneDNN's scratch memory) requires.
    return {block->data, block->data, &CachingAllocator::release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const { return &CachingAllocator::release; }

  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  void set_cap(size_t cap) {
    std::lock_guard<std::mutex> lock(mutex_);
    cap_ = cap;
    trim_locked(cap_);
  }

  void release_all() const {
    std::lock_guard<std::mutex> lock(mutex_);
    trim_locked(0);
  }

  AllocationCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    AllocationCacheStats s;
    s.hits = hits_;
    s.misses = misses_;
    s.cached_bytes = static_cast<int64_t>(cached_);
    s.mapped_bytes = static_cast<int64_t>(mapped_);
    s.cap_bytes = static_cast<int64_t>(cap_);
    s.installed = true;
    return s;
  }

  static CachingAllocator* instance;

 private:
  Block* map_block(size_t size) const {
    const size_t length = size + kHugePage;  // room to align the start to a huge page
    void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
      // Give the cache back and try once more before reporting out of memory.
      release_all();
      base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (base == MAP_FAILED) throw std::bad_alloc();
    }
    const uintptr_t start = round_up(reinterpret_cast<uintptr_t>(base), kHugePage);
    void* data = reinterpret_cast<void*>(start);
#ifdef MADV_HUGEPAGE
    madvise(data, size, MADV_HUGEPAGE);  // a hint: fewer, larger page faults where THP is on
#endif
    auto* block = new Block{base, length, data, size};
    std::lock_guard<std::mutex> lock(mutex_);
    mapped_ += size;
    return block;
  }

  static void unmap(Block* block) {
    munmap(block->base, block->length);
    delete block;
  }

  static void release(void* data) {
    CachingAllocator* self = instance;
    std::unique_lock<std::mutex> lock(self->mutex_);
    auto live = self->live_.find(data);
    if (live == self->live_.end()) {
      // A small block of the default allocator, freed through raw_deleter().
      lock.unlock();
      self->fallback_->raw_deleter()(data);
      return;
    }
    Block* block = live->second;
    self->live_.erase(live);
    if (block->size > self->cap_) {
      self->mapped_ -= block->size;
      lock.unlock();
      unmap(block);
      return;
    }
    self->trim_locked(self->cap_ - block->size);
    self->free_.emplace(block->size, block);
    self->cached_ += block->size;
  }

  // Unmaps cached blocks, largest first, until at most `keep` bytes remain.
  void trim_locked(size_t keep) const {
    while (cached_ > keep && !free_.empty()) {
      auto it = std::prev(free_.end());
      Block* block = it->second;
      free_.erase(it);
      cached_ -= block->size;
      mapped_ -= block->size;
      unmap(block);
    }
  }

  c10::Allocator* fallback_;
  mutable std::mutex mutex_;
  mutable std::multimap<size_t, Block*> free_;  // size class -> cached block
  mutable std::unordered_map<void*, Block*> live_;  // handed-out data -> its block
  mutable size_t cached_ = 0, mapped_ = 0, cap_ = 0;
  mutable int64_t hits_ = 0, misses_ = 0;
};

CachingAllocator* CachingAllocator::instance = nullptr;

size_t default_cap() {
  if (const char* env = std::getenv("MA_ALLOC_CACHE_MB")) {
    char* end = nullptr;
    const long long mb = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && mb >= 0) return static_cast<size_t>(mb) << 20;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t physical = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  size_t cap = size_t{2} << 30;
  if (physical > 0 && physical / 8 < cap) cap = physical / 8;
  return cap;
}

std::mutex install_mutex;

}  // namespace

void enable_allocation_cache(int64_t max_cached_bytes) {
  std::lock_guard<std::mutex> lock(install_mutex);
  const size_t cap = max_cached_bytes < 0 ? default_cap() : static_cast<size_t>(max_cached_bytes);
  if (!CachingAllocator::instance) {
    // Lives for the whole process: tensors may outlive any owner.
    CachingAllocator::instance = new CachingAllocator(c10::GetDefaultCPUAllocator());
    CachingAllocator::instance->set_cap(cap);
    c10::SetCPUAllocator(CachingAllocator::instance, /*priority=*/1);
    return;
  }
  CachingAllocator::instance->set_cap(cap);
}

void release_allocation_cache() {
  std::lock_guard<std::mutex> lock(install_mutex);
  if (CachingAllocator::instance) CachingAllocator::instance->release_all();
}

AllocationCacheStats allocation_cache_stats() {
  std::lock_guard<std::mutex> lock(install_mutex);
  return CachingAllocator::instance ? CachingAllocator::instance->stats() : AllocationCacheStats{};
}

}  // namespace ma
