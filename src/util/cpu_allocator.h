// A caching CPU allocator for libtorch: large blocks (>= 1 MiB) are mapped
// with transparent huge pages requested, and kept after their tensor dies to
// serve the next tensor of the same size (or up to 25% smaller), up to a cap
// of cached bytes (largest blocks unmapped first beyond it).
//
// Why: every op of the UNet allocates fresh outputs (tens of MB each). glibc
// hands blocks that large straight to mmap/munmap, so each one is paged in
// again, 4 KiB page fault by page fault, and on virtual machines a fault is
// slow (measured here: 268 MB first touched in ~5 s, reused in 0.05 s). The
// same shapes recur layer after layer and window after window, so almost
// every block is reused.
#pragma once
#include <cstdint>

namespace ma {

struct AllocationCacheStats {
  int64_t hits = 0, misses = 0;  // large allocations served from the cache / newly mapped
  int64_t cached_bytes = 0;      // free blocks kept now
  int64_t mapped_bytes = 0;      // large blocks mapped now (in use + cached)
  int64_t cap_bytes = 0;         // most cached bytes kept
  bool installed = false;
};

// Installs the allocator as libtorch's CPU allocator (once; later calls only
// change the cap). max_cached_bytes < 0: the default, 2 GiB or an eighth of
// physical memory, whichever is smaller, overridden by the environment
// variable MA_ALLOC_CACHE_MB (0 turns caching off; huge pages stay on).
// Tensors allocated before keep their own deleter, so this is safe anytime.
void enable_allocation_cache(int64_t max_cached_bytes = -1);

// Unmaps every cached block (memory goes back to the system).
void release_allocation_cache();

AllocationCacheStats allocation_cache_stats();

}  // namespace ma
