#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "pose/motion_video.h"
#include "serve/data_dir.h"
#include "serve/job_queue.h"
#include "serve/job_store.h"
#include "serve/media_probe.h"
#include "serve/request_error.h"
#include "serve/sse.h"
#include "serve/validation.h"
#include "serve/web_assets.h"

namespace ma::serve {
namespace {

using httplib::Request;
using httplib::Response;
using json = nlohmann::json;

// Never throws on text that is not UTF-8 (it is checked on the way in; this is
// the last line of defence): such bytes come out as U+FFFD.
std::string dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

// The message for errors httplib raises itself (no route, oversized upload, ...).
std::string default_error_message(int status, const Limits& limits) {
  switch (status) {
    case 400: return "bad request";
    case 401: return "API key required";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 413:
      return "upload too large: the limit is " + std::to_string(limits.max_upload_bytes >> 20) +
             " MiB per request (--max-upload-mb)";
    case 414: return "request URI too long";
    case 416: return "requested range not satisfiable";
    case 500: return "internal server error";
    case 503: return "service unavailable";
    default: return "HTTP error " + std::to_string(status);
  }
}

// Compares without an early exit, so response time does not leak the key.
bool same_secret(const std::string& given, const std::string& key) {
  if (given.size() != key.size() || key.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ key[i]);
  return diff == 0;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error("cannot write upload " + path);
}

const char* file_field_description(const std::string& name) {
  return name == "source" ? "the image to animate" : "the DensePose motion video";
}

// httplib listens with a backlog of 5 (fixed when the library was built): a
// burst of clients overflows it and some connections fail. Listening again on
// the bound socket raises the backlog (POSIX allows it; Linux applies it).
class HttpServer : public httplib::Server {
 public:
  void raise_backlog(int backlog) { ::listen(svr_sock_, backlog); }
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  DataDir data;
  JobStore store;
  JobQueue queue;
  WebAssets web;
  HttpServer http;
  std::atomic<bool> run_started{false}, run_finished{false}, http_stopped{false}, stop_requested{false};

  Impl(const ServerOptions& o, JobRunner runner)
      : options(o),
        data(o.data_dir),
        store(data.db_path()),
        queue(store, data, std::move(runner), o.limits.max_waiting),
        web(o.web_dir) {
    check_job_params(options.defaults, options.limits);
    install_routes();
    queue.start();
  }

  // Wraps an API handler: checks the key, turns exceptions into JSON errors.
  template <class Handler>
  httplib::Server::Handler api(Handler handler) {
    return [this, handler](const Request& req, Response& res) {
      try {
        if (!authorized(req)) {
          res.set_header("WWW-Authenticate", "Bearer");
          throw RequestError(401, (req.has_header("Authorization") || req.has_header("X-API-Key"))
                                      ? "wrong API key"
                                      : "this server needs an API key: send 'Authorization: Bearer <key>' "
                                        "or 'X-API-Key: <key>'");
        }
        handler(req, res);
      } catch (const RequestError& e) {
        send_error(res, e.status(), e.what());
      } catch (const std::exception& e) {
        send_error(res, 500, e.what());
      }
    };
  }

  bool authorized(const Request& req) const {
    if (options.api_key.empty()) return true;
    const std::string bearer = "Bearer ";
    std::string auth = req.get_header_value("Authorization");
    if (auth.compare(0, bearer.size(), bearer) == 0 && same_secret(auth.substr(bearer.size()), options.api_key))
      return true;
    return req.has_header("X-API-Key") && same_secret(req.get_header_value("X-API-Key"), options.api_key);
  }

  JobView job_or_404(const std::string& id) const {
    if (is_valid_job_id(id))
      if (auto view = queue.find(id)) return *view;
    throw RequestError(404, "no animation with id '" + id.substr(0, 40) + "'");
  }

  void install_routes() {
    http.new_task_queue = [threads = options.http_threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(options.limits.max_upload_bytes);
    // Uploads of a few hundred MB over a slow link need more than the default 5 s per read.
    http.set_read_timeout(60);
    http.set_write_timeout(60);
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request&, Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours already
      send_error(res, res.status, default_error_message(res.status, options.limits));
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send_error(res, 500, what);
    });
    if (options.log_requests)
      http.set_logger([](const Request& req, const Response& res) {
        std::cerr << "serve: " << req.method << " " << req.path << " " << res.status << "\n";
      });

    http.Get("/health", [this](const Request&, Response& res) {
      const Limits& l = options.limits;
      send_json(res, 200,
                {{"status", "ok"},
                 {"queued", queue.waiting()},
                 {"api_key_required", !options.api_key.empty()},
                 {"extract_pose", options.extract_pose},
                 {"defaults", to_json(options.defaults)},
                 {"native_width", options.native_width > 0 ? json(options.native_width) : json(nullptr)},
                 {"native_height", options.native_height > 0 ? json(options.native_height) : json(nullptr)},
                 {"limits",
                  {{"max_upload_bytes", l.max_upload_bytes},
                   {"max_frames", l.max_frames},
                   {"max_resolution", l.max_resolution},
                   {"max_size", l.max_size},
                   {"max_steps", l.max_steps},
                   {"max_queue", l.max_waiting}}}});
    });
    http.Post("/v1/animations", api([this](const Request& req, Response& res) { submit(req, res); }));
    http.Get("/v1/animations", api([this](const Request&, Response& res) {
      json jobs = json::array();
      for (const JobView& v : queue.list())
        jobs.push_back(to_json(v.record, v.progress ? &*v.progress : nullptr, v.queue_position));
      send_json(res, 200, {{"animations", jobs}});
    }));
    http.Get(R"(/v1/animations/([^/]+))", api([this](const Request& req, Response& res) {
      JobView v = job_or_404(req.matches[1]);
      send_json(res, 200, to_json(v.record, v.progress ? &*v.progress : nullptr, v.queue_position));
    }));
    http.Get(R"(/v1/animations/([^/]+)/events)",
             api([this](const Request& req, Response& res) { events(req.matches[1], res); }));
    http.Get(R"(/v1/animations/([^/]+)/(result|grid)\.mp4)", api([this](const Request& req, Response& res) {
      send_video(req.matches[1], req.matches[2], res);
    }));
    http.Delete(R"(/v1/animations/([^/]+))", api([this](const Request& req, Response& res) {
      std::string id = req.matches[1];
      job_or_404(id);
      switch (queue.remove(id)) {
        case JobQueue::RemoveResult::cancelled:
          send_json(res, 200, {{"id", id}, {"status", "cancelled"}});
          return;
        case JobQueue::RemoveResult::deleted:
          send_json(res, 200, {{"id", id}, {"deleted", true}});
          return;
        case JobQueue::RemoveResult::not_found:
          throw RequestError(404, "no animation with id '" + id + "'");
      }
    }));
    // Anything else under /v1 is an API typo: answer in JSON, not with the page.
    http.Get(R"(/v1(/.*)?)", api([](const Request& req, Response&) {
      throw RequestError(404, "no API route " + req.path);
    }));
    http.Get(R"(/([^/]*))", [this](const Request& req, Response& res) {
      auto file = web.get(req.matches[1]);
      if (!file) return send_error(res, 404, "not found: " + req.path);
      res.set_header("Cache-Control", "no-cache");
      res.set_content(file->body, file->content_type.c_str());
    });
  }

  void submit(const Request& req, Response& res) {
    if (!req.is_multipart_form_data())
      throw RequestError(400, "send multipart/form-data with the files 'source' and 'motion'");
    for (const auto& [name, part] : req.files) {
      bool known = std::find(kFileFields.begin(), kFileFields.end(), name) != kFileFields.end() ||
                   std::find(kParamFields.begin(), kParamFields.end(), name) != kParamFields.end();
      if (!known) {
        std::string list;  // the fields, in the order the API lists them
        for (const auto* fields : {&kFileFields, &kParamFields})
          for (const std::string& f : *fields) list += (list.empty() ? "" : ", ") + f;
        throw RequestError(400, "unknown field '" + name.substr(0, 40) + "' (known: " + list + ")");
      }
    }
    for (const std::string& name : kFileFields) {
      if (!req.has_file(name))
        throw RequestError(400, "missing field '" + name + "' (" + file_field_description(name) + ")");
      if (req.get_file_value(name).content.empty()) throw RequestError(400, name + ": the file is empty");
    }
    JobParams params = parse_job_params(
        [&](const std::string& name) -> std::optional<std::string> {
          if (!req.has_file(name)) return std::nullopt;
          return req.get_file_value(name).content;
        },
        options.defaults, options.limits);
    if (params.extract_pose && !options.extract_pose)
      throw RequestError(400, "extract_pose: this server cannot extract poses (start it with --densepose-weights FILE)");
    if (queue.waiting() >= options.limits.max_waiting)
      throw RequestError(503, "queue is full (" + std::to_string(queue.waiting()) + " jobs waiting)");

    const httplib::MultipartFormData source = req.get_file_value("source");
    const httplib::MultipartFormData motion = req.get_file_value("motion");
    JobRecord job;
    job.id = new_job_id();
    job.params = params;
    job.source_name = "source." + upload_extension(source.filename, "img");
    job.motion_name = "motion." + upload_extension(motion.filename, "video");
    job.source_upload = display_name(source.filename);
    job.motion_upload = display_name(motion.filename);

    const std::string staging = data.make_staging(job.id);
    try {
      write_file(staging + "/" + job.source_name, source.content);
      write_file(staging + "/" + job.motion_name, motion.content);
      probe_image(staging + "/" + job.source_name, "source", options.limits.max_resolution);
      MediaInfo video = probe_video(staging + "/" + job.motion_name, "motion", options.limits.max_resolution,
                                    options.limits.max_frames);
      // A raw video becomes a motion video at the densepose command's frame rate.
      job.frames = params.extract_pose ? static_cast<int64_t>(pose::resample_frame_indices(
                                             video.frames, video.fps, pose::MotionOptions{}.fps).size())
                                       : video.frames;
      if (job.frames > options.limits.max_frames)
        throw RequestError(413, "motion: more than " + std::to_string(options.limits.max_frames) +
                                    " frames once resampled for extract_pose");
      data.commit_staging(job.id);
    } catch (...) {
      data.remove_staging(job.id);
      throw;
    }
    try {
      queue.submit(job);
    } catch (...) {
      data.remove_job(job.id);
      throw;
    }
    const std::string url = "/v1/animations/" + job.id;
    res.set_header("Location", url);
    send_json(res, 202,
              {{"id", job.id}, {"status", "queued"}, {"frames", job.frames}, {"url", url}, {"events_url", url + "/events"}});
  }

  struct EventStream {
    uint64_t seen = 0;  // the job version last sent
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
  };

  // One "progress" event with the whole job (as GET returns it) now and at
  // every change; the stream ends after the event that shows it finished.
  void events(const std::string& id, Response& res) {
    job_or_404(id);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    auto stream = std::make_shared<EventStream>();
    res.set_chunked_content_provider("text/event-stream", [this, id, stream](size_t, httplib::DataSink& sink) {
      try {  // this runs after routing, where nothing would catch an exception
        return send_next_event(id, *stream, sink);
      } catch (...) {
        return false;  // drops the connection; the client may reconnect
      }
    });
  }

  // Called in a loop by httplib while the stream is open: waits (briefly, so a
  // stopping server is noticed) for the job to change, then writes an event.
  bool send_next_event(const std::string& id, EventStream& stream, httplib::DataSink& sink) {
    uint64_t version = queue.wait_for_change(id, stream.seen, std::chrono::milliseconds(500));
    auto now = std::chrono::steady_clock::now();
    if (queue.stopping()) {
      sink.done();
      return true;
    }
    std::optional<JobView> view = version ? queue.find(id) : std::nullopt;
    if (!view) {  // deleted while watched
      std::string gone = sse_event("deleted", dump(json{{"id", id}, {"deleted", true}}));
      sink.write(gone.data(), gone.size());
      sink.done();
      return true;
    }
    if (view->version != stream.seen) {
      stream.seen = view->version;
      stream.last_write = now;
      const JobRecord& job = view->record;
      json body = to_json(job, view->progress ? &*view->progress : nullptr, view->queue_position);
      std::string event = sse_event("progress", dump(body), view->version);
      if (!sink.write(event.data(), event.size())) return false;
      if (is_finished(job.status)) sink.done();
      return true;
    }
    if (now - stream.last_write > std::chrono::seconds(15)) {
      stream.last_write = now;
      std::string ping = sse_keepalive();
      if (!sink.write(ping.data(), ping.size())) return false;
    }
    return sink.is_writable();
  }

  void send_video(const std::string& id, const std::string& which, Response& res) {
    JobView v = job_or_404(id);
    bool present = which == "result" ? v.record.has_result : v.record.has_grid;
    if (!present) {
      std::string state = to_string(v.record.status);
      throw RequestError(v.record.status == JobStatus::done ? 404 : 409,
                         "no " + which + ".mp4 for animation " + id + " (status: " + state + ")");
    }
    std::string path = which == "result" ? data.result_path(id) : data.grid_path(id);
    auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (!*file || ec || size == 0) throw Error("cannot read " + path);
    res.set_header("Content-Disposition", "inline; filename=\"" + id + "-" + which + ".mp4\"");
    res.set_content_provider(static_cast<size_t>(size), "video/mp4",
                             [file](size_t offset, size_t length, httplib::DataSink& sink) {
                               char buffer[64 * 1024];
                               file->clear();
                               file->seekg(static_cast<std::streamoff>(offset));
                               size_t want = std::min(length, sizeof(buffer));
                               file->read(buffer, static_cast<std::streamsize>(want));
                               std::streamsize got = file->gcount();
                               if (got <= 0) return false;
                               return sink.write(buffer, static_cast<size_t>(got));
                             });
  }
};

Server::Server(const ServerOptions& options, JobRunner runner)
    : impl_(std::make_unique<Impl>(options, std::move(runner))) {}

Server::~Server() { stop(); }

int Server::bind() {
  const ServerOptions& o = impl_->options;
  int port = o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(o.host);
    if (port <= 0) throw Error("cannot listen on " + o.host + " (any port)");
  } else if (!impl_->http.bind_to_port(o.host, o.port)) {
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or not an address here)");
  }
  impl_->http.raise_backlog(128);
  return port;
}

void Server::run() {
  impl_->run_started = true;
  if (!impl_->stop_requested) impl_->http.listen_after_bind();  // else stop_serving() came first
  impl_->run_finished = true;
}

void Server::stop_serving() {
  impl_->stop_requested = true;
  if (impl_->run_started && !impl_->http_stopped.exchange(true)) {
    // listen_after_bind() may not have marked itself running yet; httplib's stop() is a no-op until it has.
    while (!impl_->http.is_running() && !impl_->run_finished)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    impl_->http.stop();
  }
}

void Server::stop() {
  stop_serving();
  impl_->queue.stop();
}

JobQueue& Server::queue() { return impl_->queue; }
const ServerOptions& Server::options() const { return impl_->options; }

}  // namespace ma::serve
