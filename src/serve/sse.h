// Server-Sent Events framing (text/event-stream): what the events endpoint
// writes and the browser page (and tests) parse.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ma::serve {

// "id: <id>\nevent: <event>\ndata: <line>\n...\n\n"; data may span lines.
std::string sse_event(const std::string& event, const std::string& data, uint64_t id = 0);
// A comment line that keeps proxies and idle timeouts from closing the stream.
std::string sse_keepalive();

struct SseEvent {
  std::string event = "message";
  std::string data;
};

// Incremental parser for a client reading a stream in arbitrary chunks.
class SseParser {
 public:
  // Feeds bytes; returns the events completed by them.
  std::vector<SseEvent> feed(const std::string& chunk);

 private:
  std::string buffer_;
  SseEvent current_;
  bool has_data_ = false;
};

}  // namespace ma::serve
