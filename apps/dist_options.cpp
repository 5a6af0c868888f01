#include "apps/dist_options.h"

#include <algorithm>
#include <thread>

#include "dist/spawn.h"
#include "util/error.h"

namespace ma::app {

void add_dist_options(CLI::App& app, DistOptions& o) {
  const char* group = "Distributed (see docs/distributed.md)";
  app.add_option("--nproc", o.nproc,
                 "Run as N processes on this machine, splitting the work (torchrun, mpirun and srun "
                 "launches are recognised by their variables instead)")
      ->type_name("N")
      ->capture_default_str()
      ->group(group);
  app.add_option("--dist-timeout", o.timeout_s,
                 "Seconds a process waits for a missing or silent peer before every process stops with an error")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->group(group);
  app.add_option("--master-addr", o.master_addr, "Rank 0's host for the rendezvous (default: $MASTER_ADDR)")
      ->type_name("HOST")
      ->group(group);
}

std::optional<int> launch_workers(const DistOptions& o) {
  if (o.nproc < 1) throw Error("--nproc must be at least 1, got " + std::to_string(o.nproc));
  if (o.timeout_s < 1) throw Error("--dist-timeout must be at least 1 second, got " + std::to_string(o.timeout_s));
  if (o.nproc == 1 || dist::is_spawned_worker()) return std::nullopt;
  // (Any address will do here: only the launcher's world size matters.)
  const dist::LaunchEnv env = dist::launch_env_from_process("placeholder");
  if (env.world > 1)
    throw Error("--nproc cannot be used inside a " + env.launcher + " launch (it already started " +
                std::to_string(env.world) + " processes)");
  return dist::spawn_local_workers(o.nproc);
}

DistRun join_run(const DistOptions& o) {
  DistRun run;
  run.env = dist::launch_env_from_process(o.master_addr);
  dist::ConnectOptions c;
  c.timeout = std::chrono::seconds(o.timeout_s);
  run.comm = dist::connect(run.env, c);
  return run;
}

WindowShare DistRun::window_share() const {
  WindowShare share;
  share.rank = env.rank;
  share.world = env.world;
  if (env.world == 1) return share;
  std::shared_ptr<dist::Communicator> c = comm;
  share.allreduce_sum = [c](at::Tensor& t) { c->allreduce_sum(t); };
  return share;
}

uint64_t DistRun::agree(uint64_t value) const {
  if (env.world == 1) return value;
  at::Tensor t = at::tensor({static_cast<int64_t>(value)}, at::kLong);
  comm->broadcast(t, 0);
  return static_cast<uint64_t>(t.item<int64_t>());
}

int DistRun::threads(int requested) const {
  if (requested > 0 || env.local_world <= 1) return requested;
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return std::max(1, cores / env.local_world);
}

}  // namespace ma::app
