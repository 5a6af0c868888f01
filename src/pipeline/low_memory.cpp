#include "pipeline/low_memory.h"

#include <linux/magic.h>
#include <sys/vfs.h>

#include <cstdio>
#include <map>
#include <optional>

#include "util/error.h"
#include "util/temp_dir.h"
#include "weights/mapped_pages.h"
#include "weights/safetensors.h"

namespace ma {
namespace {

bool is_tmpfs(const std::string& dir) {
  struct statfs fs {};
  return statfs(dir.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == TMPFS_MAGIC;
}

}  // namespace

MappedBack map_resident_weights(const std::vector<const nn::Module*>& nets) {
  MappedBack out;
  std::optional<TempDir> made;
  try {
    made.emplace("magicanimate-weights");
  } catch (const std::exception& e) {  // the mapped safetensors still go: say why the rest stays
    out.not_done = e.what();
    return out;
  }
  const TempDir& dir = *made;
  if (is_tmpfs(dir.path())) {
    out.not_done = "the temporary folder " + dir.path().substr(0, dir.path().rfind('/')) +
                   " is a tmpfs (memory): set TMPDIR to a folder on a disk";
    return out;
  }
  int file = 0;
  for (const nn::Module* net : nets) {
    // One file per network and dtype: loading converts floats to one dtype.
    std::map<at::ScalarType, std::vector<const nn::ParamInfo*>> by_dtype;
    const std::vector<nn::ParamInfo> entries = net->state_entries();
    for (const nn::ParamInfo& p : entries) {
      const at::Tensor& t = *p.slot;
      if (t.defined() && t.is_floating_point() && t.device().is_cpu() && t.is_contiguous() && t.numel() > 0 &&
          file_backed_bytes(t) == 0)
        by_dtype[t.scalar_type()].push_back(&p);
    }
    for (const auto& [dtype, params] : by_dtype) {
      TensorMap weights;
      for (const nn::ParamInfo* p : params) weights[p->name] = *p->slot;
      const std::string path = dir.path() + "/" + std::to_string(file++) + ".safetensors";
      try {
        save_safetensors(path, weights);
      } catch (const std::exception& e) {
        std::remove(path.c_str());
        throw Error(std::string("--low-memory: cannot write the weights to map to ") + path + ": " + e.what());
      }
      weights.clear();
      TensorMap mapped = load_safetensors(path, DeviceDtype{dtype, at::kCPU});
      std::remove(path.c_str());  // the mapping keeps the data until it goes
      for (const nn::ParamInfo* p : params) {
        at::Tensor& slot = *p->slot;
        slot = mapped.at(p->name);
        out.bytes += file_backed_bytes(slot);
      }
    }
  }
  return out;
}

}  // namespace ma
