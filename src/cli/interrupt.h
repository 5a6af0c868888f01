// Ctrl-C handling for the command-line programs: the first SIGINT/SIGTERM asks
// the running job to stop (the engine checks between windows and throws
// ma::Cancelled, outputs are cleaned up); a second one ends the process at once.
#pragma once
#include <atomic>

namespace ma::cli {

// Installs the handlers (once) and returns the flag they set.
const std::atomic<bool>* install_interrupt_handlers();

}  // namespace ma::cli
