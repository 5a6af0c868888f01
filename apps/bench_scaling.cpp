#include "apps/bench_scaling.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "bench/models.h"
#include "dist/spawn.h"
#include "pipeline/context_windows.h"
#include "util/error.h"
#include "util/threads.h"

namespace ma::app {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kResultVar = "MAGICANIMATE_BENCH_RESULT";  // where rank 0 of a worker run writes

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The video: four windows' worth of frames, so 2 processes get two each.
int64_t video_frames(const bench::BenchOptions& o) { return 4 * o.frames; }

// One worker of a run: builds the models, animates, and (rank 0) writes
// {"seconds", "allreduce_seconds", "allreduce_bytes_per_step", ...}.
// allreduce_seconds is rank 0's time inside the collectives: the transfer
// plus the wait for the slowest rank's windows (load imbalance).
int run_worker(const bench::BenchOptions& o, const DistOptions& d, const std::string& result_path) {
  DistRun run = join_run(d);
  const int threads = configure_threads(run.threads(o.threads));  // the count in use
  EngineOptions engine;
  engine.dtype = o.dtype;
  engine.threads = run.threads(o.threads);
  Animator animator(bench::build_random_models(o.models_dir, DeviceDtype{o.dtype, at::kCPU}), engine);
  WindowShare share = run.window_share();
  double reduce_seconds = 0;
  int64_t reduce_bytes = 0, reduces = 0;
  if (share.allreduce_sum) {
    auto inner = share.allreduce_sum;
    share.allreduce_sum = [&, inner](at::Tensor& t) {
      const auto t0 = Clock::now();
      inner(t);
      reduce_seconds += since(t0);
      reduce_bytes += t.numel() * static_cast<int64_t>(t.element_size());
      ++reduces;
    };
  }
  animator.set_window_share(share);
  at::manual_seed(1);
  const int64_t frames = video_frames(o);
  at::Tensor source = at::randint(0, 256, {o.size, o.size, 3}, at::TensorOptions().dtype(at::kByte));
  at::Tensor control = at::randint(0, 256, {frames, o.size, o.size, 3}, at::TensorOptions().dtype(at::kByte));
  AnimationParams p;
  p.width = p.height = o.size;
  p.steps = o.steps;
  p.context = o.frames;
  p.overlap = std::min<int64_t>(4, o.frames - 1);
  run.comm->barrier();  // every rank has its models: time the animation alone
  const auto t0 = Clock::now();
  animator.animate(source, control, p);
  run.comm->barrier();
  const double seconds = since(t0);
  if (run.leader()) {
    nlohmann::json j = {{"seconds", seconds},
                        {"allreduce_seconds", reduce_seconds},
                        {"allreduce_bytes_per_step", reduces ? reduce_bytes / reduces : 0},
                        {"windows_per_step", uniform_windows(frames, p.context, p.overlap).size()},
                        {"threads_per_process", threads}};
    std::ofstream(result_path) << j.dump();
  }
  return 0;
}

nlohmann::json measure(int nproc, const std::string& path) {
  std::remove(path.c_str());
  dist::spawn_local_workers(nproc, {std::string(kResultVar) + "=" + path});
  std::ifstream in(path);
  if (!in) throw Error("bench --nproc: the " + std::to_string(nproc) + "-process run wrote no result");
  return nlohmann::json::parse(in);
}

}  // namespace

int run_bench_scaling(const bench::BenchOptions& o, const DistOptions& d, bool json) {
  bench::validate(o);
  if (const char* path = std::getenv(kResultVar)) return run_worker(o, d, path);
  if (o.log) o.log("bench: animation of " + std::to_string(video_frames(o)) + " frames at " + std::to_string(o.size) +
                   ", " + std::to_string(o.steps) + " step(s), on 1 and on " + std::to_string(d.nproc) + " processes");
  char tmpl[] = "/tmp/ma-bench-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw Error("bench --nproc: cannot create a temporary file");
  ::close(fd);
  nlohmann::ordered_json report;
  report["frames"] = video_frames(o);
  report["size"] = o.size;
  report["steps"] = o.steps;
  report["cores"] = static_cast<int>(std::thread::hardware_concurrency());
  std::vector<nlohmann::json> runs;
  for (int n : {1, d.nproc}) {
    nlohmann::json r = measure(n, tmpl);
    r["processes"] = n;
    runs.push_back(r);
  }
  std::remove(tmpl);
  const double t1 = runs[0]["seconds"].get<double>();
  for (auto& r : runs) {
    const double speedup = t1 / r["seconds"].get<double>();
    r["speedup"] = speedup;
    r["efficiency"] = speedup / r["processes"].get<int>();
  }
  report["runs"] = runs;
  if (json) {
    std::cout << report.dump(2) << std::endl;
    return 0;
  }
  std::ostringstream t;
  t << std::fixed << "processes  threads/proc  seconds   speed-up  efficiency  all-reduce/step  in all-reduce s\n";
  for (const auto& r : runs)
    t << std::setw(9) << r["processes"].get<int>() << std::setw(14) << r["threads_per_process"].get<int>()
      << std::setw(9) << std::setprecision(2) << r["seconds"].get<double>() << std::setw(11) << r["speedup"].get<double>()
      << std::setw(12) << r["efficiency"].get<double>() << std::setw(14)
      << r["allreduce_bytes_per_step"].get<int64_t>() / 1024 << " KiB" << std::setw(17) << std::setprecision(3)
      << r["allreduce_seconds"].get<double>() << "\n";
  std::cout << t.str() << std::flush;
  return 0;
}

}  // namespace ma::app
