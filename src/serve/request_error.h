// A client mistake the HTTP layer answers with a 4xx (or 503) JSON error:
// {"error": "<one line naming the problem>"}.
#pragma once
#include <string>

#include "util/error.h"

namespace ma::serve {

class RequestError : public Error {
 public:
  RequestError(int status, const std::string& what) : Error(what), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

}  // namespace ma::serve
