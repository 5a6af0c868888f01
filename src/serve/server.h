// `magicanimate serve`: the HTTP API and web page over the job queue. A thin
// layer: routes parse and check requests, the JobQueue owns the jobs, the
// JobRunner does the animation.
//
//   POST   /v1/animations               multipart: source, motion [, steps, scheduler, guidance, seed,
//                                       size, context, overlap, L, prompt, extract_pose]  -> 202 {"id": ...}
//   GET    /v1/animations               every job, newest first
//   GET    /v1/animations/{id}          status, progress, ETA, parameters, error
//   GET    /v1/animations/{id}/events   Server-Sent Events, one per change, until finished
//   GET    /v1/animations/{id}/result.mp4, /grid.mp4
//   DELETE /v1/animations/{id}          cancels a queued/running job, deletes a finished one
//   GET    /health                      liveness (never needs the API key)
//   GET    /, /<file>                   the web page
// Errors are JSON: {"error": "<what is wrong>"} with a 4xx/5xx status.
#pragma once
#include <memory>
#include <string>

#include "serve/job.h"
#include "serve/job_runner.h"
#include "serve/limits.h"

namespace ma::serve {

class JobQueue;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (tests)
  std::string data_dir = "magicanimate-data";
  std::string api_key;  // empty: no key needed
  std::string web_dir;  // empty: the embedded page (else MA_WEB_DIR)
  Limits limits;
  JobParams defaults;   // parameters a submission leaves out
  // The served models' native size (magicanimate.json), reported by /health for
  // the page; 0: they record none. (serve makes it the default size unless --size.)
  int64_t native_width = 0, native_height = 0;
  bool extract_pose = false;  // the runner can make motion videos from raw ones (serve --densepose-weights)
  int http_threads = 32;  // each open events stream holds one
  bool log_requests = true;
};

class Server {
 public:
  // Opens (or creates) the data folder and job database, re-queues unfinished
  // jobs and starts the worker. Throws ma::Error naming what failed.
  Server(const ServerOptions& options, JobRunner runner);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; returns the port (the chosen one when options.port is 0).
  int bind();
  // Serves until stop(); call after bind().
  void run();
  // Makes run() return soon; quick and safe from any thread.
  void stop_serving();
  // stop_serving(), then stops the worker: a running job is interrupted and
  // stays queued for the next start.
  void stop();

  JobQueue& queue();
  const ServerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ma::serve
