// `magicanimate serve`: loads the models once and serves the animation API
// and the web page (see docs/server.md).
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "apps/commands.h"
#include "cli/interrupt.h"
#include "cli/options.h"
#include "media/libav_util.h"
#include "weights/model_info.h"
#include "weights/model_paths.h"
#include "pipeline/animation.h"
#include "serve/engine_runner.h"
#include "serve/server.h"
#include "serve/validation.h"
#include "serve/web_assets.h"
#include "util/error.h"
#include "util/threads.h"

namespace ma::app {
namespace {

struct ServeFlags {
  cli::ModelFlags models;
  cli::EngineFlags engine;
  serve::ServerOptions server;
  int64_t max_upload_mb = 200;
  int64_t max_queue = 1000;
  std::string densepose_weights;  // jobs may send raw videos with extract_pose
  int64_t size = AnimationParams{}.width;
  CLI::Option* size_option = nullptr;  // given: the default size even when the models record a native one
};

// The default job size: --size, else the models' native size, else 512.
void settle_default_size(ServeFlags& f) {
  serve::ServerOptions& s = f.server;
  s.defaults.set_size(f.size);
  if (std::optional<NativeSize> native = read_native_size(f.models.models)) {
    s.native_width = native->width;
    s.native_height = native->height;
    if (f.size_option->count() == 0) {
      s.defaults.width = native->width;
      s.defaults.height = native->height;
    }
  }
}

const char* kFooter = R"(API (JSON; docs/server.md has curl examples):
  POST   /v1/animations              multipart: source (image), motion (video) and optional
                                     steps, scheduler (ddim or dpmpp-2m), guidance, seed,
                                     size (default: --size, else the models' native size),
                                     context, overlap, L, prompt, extract_pose (true: motion
                                     is a raw video; needs --densepose-weights)
  GET    /v1/animations              every job, newest first
  GET    /v1/animations/ID           status, progress, ETA, parameters, error
  GET    /v1/animations/ID/events    Server-Sent Events until the job finishes
  GET    /v1/animations/ID/result.mp4, /grid.mp4
  DELETE /v1/animations/ID           cancels a queued or running job, deletes a finished one
  GET    /health                     defaults, limits, native_width/native_height (no API key needed)
  GET    /                           the web page
Jobs run one at a time in submission order. Records and files live under --data: after a
restart finished jobs are still listed, queued and interrupted ones run again.
With --api-key (or MAGICANIMATE_API_KEY) every /v1 call needs 'Authorization: Bearer KEY'
or 'X-API-Key: KEY'. Ctrl-C / SIGTERM stops (exit status 0); the running job is interrupted
and runs again at the next start. A second Ctrl-C quits at once.)";

int run_serve(ServeFlags& f) {
  if (f.max_upload_mb < 1) throw Error("--max-upload-mb must be at least 1");
  if (f.server.limits.max_resolution < 64 || f.server.limits.max_resolution > av::kMaxSide)
    throw Error("--max-resolution must be between 64 and " + std::to_string(av::kMaxSide));
  if (f.max_queue < 1) throw Error("--max-queue must be at least 1");
  f.server.limits.max_upload_bytes = static_cast<size_t>(f.max_upload_mb) << 20;
  f.server.limits.max_waiting = static_cast<size_t>(f.max_queue);
  settle_default_size(f);
  serve::check_job_params(f.server.defaults, f.server.limits);  // the --steps/--size/... defaults
  EngineOptions engine = cli::engine_options_from(f.engine);

  const std::atomic<bool>* interrupted = cli::install_interrupt_handlers();

  auto start = std::chrono::steady_clock::now();
  ModelPaths paths = resolve_model_paths(f.models.models, f.models.parts);
  engine.threads = configure_threads(engine.threads);
  auto animator = std::make_shared<Animator>(paths, engine);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  f.server.extract_pose = !f.densepose_weights.empty();
  serve::Server server(f.server, serve::make_engine_runner(animator, f.densepose_weights));
  int port = server.bind();

  // The signal handler only sets a flag; this thread turns it into an orderly stop.
  std::atomic<bool> exiting{false};
  std::thread watcher([&] {
    while (!exiting && !*interrupted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (exiting) return;
    std::cerr << "magicanimate serve: stopping (a running job resumes at the next start; "
                 "Ctrl-C again to quit at once)\n";
    server.stop_serving();  // run() returns; the main thread then stops the worker
  });

  const serve::ServerOptions& o = server.options();
  std::cerr << "magicanimate serve: models loaded in " << static_cast<int>(load_s + 0.5) << " s\n"
            << "  listening on http://" << o.host << ":" << port << "/\n"
            << "  data: " << o.data_dir << "\n"
            << (engine.low_memory ? "  " + describe_low_memory(animator->weight_bytes()) + "\n" : std::string())
            << "  default size: " << o.defaults.width << "x" << o.defaults.height
            << (f.size_option->count() == 0 && o.native_width > 0 ? " (the models' native size)" : "") << "\n"
            << "  page: " << serve::WebAssets(o.web_dir).origin() << "\n"
            << "  API key: " << (o.api_key.empty() ? "none (anyone who can connect may submit)" : "required")
            << "\n";
  server.run();

  exiting = true;
  watcher.join();
  server.stop();
  return 0;
}

}  // namespace

Action add_serve_command(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  serve::ServerOptions& s = f->server;
  CLI::App* cmd = app.add_subcommand("serve", "HTTP API and web page: queue animations, watch progress, fetch videos");
  cmd->footer(kFooter);
  cli::add_model_options(*cmd, f->models, /*required=*/true);
  cmd->add_option("--host", s.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  cmd->add_option("--port", s.port, "TCP port (0: any free one, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--data", s.data_dir, "Folder for the job database, uploads and results")->capture_default_str();
  cmd->add_option("--api-key", s.api_key, "Require this key on every API call")->envname("MAGICANIMATE_API_KEY");
  cmd->add_option("--web", s.web_dir, "Serve the page from this folder instead of the built-in copy")
      ->check(CLI::ExistingDirectory);
  cli::add_engine_options(*cmd, f->engine, "Engine");
  cmd->add_option("--densepose-weights", f->densepose_weights,
                  "detectron2 DensePose .pkl: jobs may then send a raw video with extract_pose=true")
      ->check(CLI::ExistingFile);

  cmd->add_option("--max-upload-mb", f->max_upload_mb, "Largest request (both files) in MiB")
      ->capture_default_str()
      ->group("Limits");
  cmd->add_option("--max-frames", s.limits.max_frames, "Most frames a motion video may have")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(100000)))
      ->group("Limits");
  cmd->add_option("--max-resolution", s.limits.max_resolution, "Largest width or height of an uploaded image/video")
      ->capture_default_str()
      ->group("Limits");
  cmd->add_option("--max-size", s.limits.max_size, "Largest output size a job may ask for")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(64), int64_t(4096)))
      ->group("Limits");
  cmd->add_option("--max-steps", s.limits.max_steps, "Most denoising steps a job may ask for")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(1), int64_t(1000)))
      ->group("Limits");
  cmd->add_option("--max-queue", f->max_queue, "Most jobs waiting; more submissions get 503")
      ->capture_default_str()
      ->group("Limits");

  const char* defaults = "Job defaults";
  f->size_option = cmd->add_option("--size", f->size,
                                   "Default output size (width = height; default: the models' native size "
                                   "(magicanimate.json), else 512)")
                       ->capture_default_str()
                       ->group(defaults);
  cli::add_sampling_options(*cmd, s.defaults, defaults);
  cmd->add_option("--seed", s.defaults.seed, "Default seed")->capture_default_str()->group(defaults);
  return [f]() -> int { return run_serve(*f); };
}

}  // namespace ma::app
