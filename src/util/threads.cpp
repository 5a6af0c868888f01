#include "util/threads.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>

#include <string>
#include <thread>

#include "util/error.h"

namespace ma {

namespace {

// Debian's libtorch calls whichever libblas.so.3 is installed; OpenBLAS's
// pthread build keeps its own thread pool (every core by default), which
// at::set_num_threads does not reach. Set it too when that library is loaded.
void set_blas_threads(int count) {
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(count);
}

}  // namespace

int configure_threads(int threads) {
  if (threads < 0) throw Error("--threads must be 0 (every core) or more, got " + std::to_string(threads));
  int count = threads;
  if (count == 0) count = static_cast<int>(std::thread::hardware_concurrency());
  if (count <= 0) count = 1;  // hardware_concurrency() may not know
  at::set_num_threads(count);
  set_blas_threads(count);
  return at::get_num_threads();
}

}  // namespace ma
