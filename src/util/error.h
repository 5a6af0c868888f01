// One exception type for every user-facing failure. Its message is a single
// line that names the problem (file, tensor, option); programs print it and
// exit non-zero instead of crashing.
#pragma once
#include <stdexcept>
#include <string>

namespace ma {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Raised when the user asked to stop (Ctrl-C, a cancelled server job).
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

}  // namespace ma
