#include "pipeline/context_windows.h"

#include "util/error.h"

namespace ma {

std::vector<Window> uniform_windows(int64_t frames, int64_t size, int64_t overlap) {
  if (frames < 1 || size < 1) throw Error("context windows: frames and window size must be positive");
  if (overlap < 0 || overlap >= size) throw Error("context windows: overlap must be in [0, window size)");
  std::vector<Window> windows;
  if (frames <= size) {
    Window all;
    for (int64_t f = 0; f < frames; ++f) all.push_back(f);
    windows.push_back(all);
    return windows;
  }
  for (int64_t start = 0; start < frames; start += size - overlap) {
    Window w;
    for (int64_t f = start; f < start + size; ++f) w.push_back(f % frames);
    windows.push_back(w);
  }
  return windows;
}

}  // namespace ma
