// `--nproc N`: this program starts N copies of itself on this machine as the
// ranks of one run (what torchrun would do), waits for all of them, and stops
// the rest as soon as one fails.
#pragma once
#include <string>
#include <vector>

namespace ma::dist {

// Set in each worker's environment: a worker ignores --nproc.
constexpr const char* kWorkerMarker = "MAGICANIMATE_WORKER";

// True in a process started by spawn_local_workers.
bool is_spawned_worker();

// A TCP port on 127.0.0.1 that was free a moment ago (the OS's choice).
int free_loopback_port();

// Runs /proc/self/exe with this process's own arguments `n` times, with
// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and
// MASTER_PORT (a free port) set, and waits. Returns 0 when every worker
// succeeded. When one fails, the others get SIGTERM (SIGKILL after
// `grace_s`) and ma::Error names the first failure; ma::Cancelled when the
// workers were cancelled (Ctrl-C reaches them directly; a SIGTERM to this
// process is passed on).
// `extra_env` ("NAME=value" entries) is added to every worker's environment.
int spawn_local_workers(int n, const std::vector<std::string>& extra_env = {}, int grace_s = 10);

}  // namespace ma::dist
