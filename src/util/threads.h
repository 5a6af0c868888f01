// CPU thread setup shared by the programs (animate, serve, bench).
#pragma once

namespace ma {

// Sets libtorch's intra-op thread count: `threads` > 0 as given, 0 for every
// core (libtorch on these machines otherwise reports 1). Returns the count in
// use. Negative counts throw ma::Error.
int configure_threads(int threads);

}  // namespace ma
