// Helpers for the server tests: temporary folders, tiny media files, HTTP
// uploads and event-stream reading with cpp-httplib's own client.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "media/video.h"
#include "serve/sse.h"
#include "temp_dir.h"

namespace ma::test {

using json = nlohmann::json;


inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// `frames` frames of w x h, each a different flat colour, as H.264 MP4.
inline std::string make_video(const std::string& path, int64_t frames, int64_t w = 64, int64_t h = 64) {
  at::Tensor video = at::empty({frames, h, w, 3}, at::kByte);
  for (int64_t i = 0; i < frames; ++i) video[i].fill_(static_cast<int64_t>(40 + 50 * (i % 4)));
  write_video(path, video, 25.0);
  return path;
}

// A well-formed GIF (header, 64x64 screen, trailer) holding no frames at all.
// (MP4 and Matroska muxers cannot write a video track without frames.)
inline std::string make_empty_video(const std::string& path) {
  write_bytes(path, std::string("GIF89a\x40\x00\x40\x00\x00\x00\x00\x3b", 14));
  return path;
}

// Files and form fields of one submission.
struct Upload {
  std::string source, source_name = "source.png";
  std::string motion, motion_name = "motion.mp4";
  std::vector<std::pair<std::string, std::string>> fields;

  httplib::MultipartFormDataItems items() const {
    httplib::MultipartFormDataItems items;
    if (!source_name.empty()) items.push_back({"source", source, source_name, "application/octet-stream"});
    if (!motion_name.empty()) items.push_back({"motion", motion, motion_name, "application/octet-stream"});
    for (const auto& [name, value] : fields) items.push_back({name, value, "", ""});
    return items;
  }
};

struct Reply {
  int status = 0;  // 0: no reply at all
  json body;
  std::string raw;
  httplib::Headers headers;
};

inline Reply reply_of(const httplib::Result& r) {
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.raw = r->body;
  out.headers = r->headers;
  out.body = json::parse(r->body, nullptr, false);  // discarded (not JSON) for videos
  return out;
}

inline httplib::Client client_for(int port, const httplib::Headers& headers = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(10);
  c.set_read_timeout(120);
  c.set_write_timeout(60);
  if (!headers.empty()) c.set_default_headers(headers);
  return c;
}

inline Reply submit(httplib::Client& c, const Upload& u) { return reply_of(c.Post("/v1/animations", u.items())); }
inline Reply get(httplib::Client& c, const std::string& path) { return reply_of(c.Get(path)); }

// Every "progress" event of a job's stream until the server ends it (the job
// finished) or `limit` passes (a safety net against hangs, not a timing check).
inline std::vector<json> read_events(int port, const std::string& id, const httplib::Headers& headers = {},
                                     const std::function<void(const json&)>& on_event = {},
                                     std::chrono::seconds limit = std::chrono::seconds(300)) {
  httplib::Client c = client_for(port, headers);
  std::vector<json> events;
  serve::SseParser parser;
  auto deadline = std::chrono::steady_clock::now() + limit;
  c.Get(("/v1/animations/" + id + "/events").c_str(), [&](const char* data, size_t size) {
    for (const serve::SseEvent& e : parser.feed(std::string(data, size)))
      if (e.event == "progress") {
        events.push_back(json::parse(e.data));
        if (on_event) on_event(events.back());
      }
    return std::chrono::steady_clock::now() < deadline;
  });
  return events;
}

// Polls GET /v1/animations/{id} until `done(job)` holds or `limit` passes.
inline json wait_for_job(httplib::Client& c, const std::string& id, const std::function<bool(const json&)>& done,
                         std::chrono::seconds limit = std::chrono::seconds(300)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  json job;
  while (std::chrono::steady_clock::now() < deadline) {
    Reply r = get(c, "/v1/animations/" + id);
    if (r.status == 200) {
      job = r.body;
      if (done(job)) return job;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "job " << id << " did not reach the expected state; last seen: " << job.dump();
  return job;
}

inline bool is_finished_status(const json& job) {
  std::string s = job.value("status", "");
  return s == "done" || s == "failed" || s == "cancelled";
}

}  // namespace ma::test
