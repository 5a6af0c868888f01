#include "serve/sse.h"

namespace ma::serve {

std::string sse_event(const std::string& event, const std::string& data, uint64_t id) {
  std::string out;
  if (id) out += "id: " + std::to_string(id) + "\n";
  out += "event: " + event + "\n";
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    out += "data: " + data.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out + "\n";
}

std::string sse_keepalive() { return ": keep-alive\n\n"; }

std::vector<SseEvent> SseParser::feed(const std::string& chunk) {
  std::vector<SseEvent> events;
  buffer_ += chunk;
  size_t nl;
  while ((nl = buffer_.find('\n')) != std::string::npos) {
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {  // blank line: dispatch
      if (has_data_) events.push_back(current_);
      current_ = SseEvent{};
      has_data_ = false;
      continue;
    }
    if (line[0] == ':') continue;  // comment
    size_t colon = line.find(':');
    std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "event") {
      current_.event = value;
    } else if (field == "data") {
      if (has_data_) current_.data += "\n";
      current_.data += value;
      has_data_ = true;
    }
  }
  return events;
}

}  // namespace ma::serve
