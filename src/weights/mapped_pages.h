// Weights that stay in their files: which tensors alias a weights file's
// memory mapping (load_safetensors maps files and, where no conversion is
// needed, its tensors point into the mapping), and handing their pages back.
//
// A network that is not running needs no resident weights. The pages of a
// file mapping that is never written are the kernel's page cache: dropping
// them from this process (MADV_DONTNEED) costs nothing to keep, and touching
// them again maps them back from the cache (from the disk only if the kernel
// evicted them under memory pressure). So the appearance encoder, ControlNet,
// UNet, VAE and text encoder, which run one after another, need the memory of
// one of them at a time, not of all five: what llama.cpp gets from mmap.
//
// Dropping a page that was written would lose the write (a private mapping's
// written page is anonymous memory): mappings are checked for written pages
// before their first release and are read-only from then on, so a later write
// faults loudly instead of being lost. Only inference releases pages; a
// trainer, which updates weights in place, never calls this.
#pragma once
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ma {

// load_safetensors registers each file mapping it makes and unregisters it
// when the mapping is unmapped.
void register_file_mapping(void* addr, size_t size);
void unregister_file_mapping(void* addr);

// Bytes of `t`'s data that lie in a registered file mapping (0 for a tensor
// of anonymous memory: converted, computed, read from a pickle, on a GPU).
int64_t file_backed_bytes(const at::Tensor& t);

struct PageRelease {
  int64_t file_backed_bytes = 0;  // data of the given tensors inside file mappings
  int64_t skipped_bytes = 0;      // of those, in a mapping that had been written (kept)
};

// Drops from resident memory every whole page of the given tensors that lies
// in a file mapping; anonymous memory is never touched. Thread-safe.
PageRelease release_file_pages(const std::vector<at::Tensor>& tensors);

}  // namespace ma
