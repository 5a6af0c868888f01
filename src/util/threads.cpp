#include "util/threads.h"

#include <ATen/Parallel.h>

#include <string>
#include <thread>

#include "util/error.h"

namespace ma {

int configure_threads(int threads) {
  if (threads < 0) throw Error("--threads must be 0 (every core) or more, got " + std::to_string(threads));
  int count = threads;
  if (count == 0) count = static_cast<int>(std::thread::hardware_concurrency());
  if (count <= 0) count = 1;  // hardware_concurrency() may not know
  at::set_num_threads(count);
  return at::get_num_threads();
}

}  // namespace ma
