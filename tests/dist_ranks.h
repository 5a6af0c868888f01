// Runs a test body as several ranks: one forked copy of the test process per
// rank, each returning an exit status (0: its checks passed). A run that
// outlives its limit is killed and reported, so a hang fails the test.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "dist/communicator.h"
#include "dist/launch_env.h"
#include "dist/spawn.h"

namespace ma::test {

struct RanksResult {
  std::vector<int> exit_codes;  // -1: killed by a signal
  bool timed_out = false;
};

// The torchrun variables of `rank` in a loopback world of `world` at `port`.
inline dist::LaunchEnv loopback_env(int rank, int world, int port) {
  return dist::parse_launch_env(dist::env_from_map({{"RANK", std::to_string(rank)},
                                                    {"WORLD_SIZE", std::to_string(world)},
                                                    {"MASTER_ADDR", "127.0.0.1"},
                                                    {"MASTER_PORT", std::to_string(port)}}));
}

// Forks one process per entry of `ranks`, each running body(rank, port);
// an exception in a body is printed and exits 2.
inline RanksResult run_ranks(const std::vector<int>& ranks, const std::function<int(int rank, int port)>& body,
                             int limit_s = 120) {
  const int port = dist::free_loopback_port();
  std::vector<pid_t> pids;
  for (int rank : ranks) {
    std::cout.flush();
    std::cerr.flush();
    pid_t pid = ::fork();
    if (pid == 0) {
      int code = 2;
      try {
        code = body(rank, port);
      } catch (const std::exception& e) {
        std::cerr << "rank " << rank << ": " << e.what() << "\n";
      }
      std::cerr.flush();
      ::_exit(code);  // no gtest teardown in the children
    }
    pids.push_back(pid);
  }
  RanksResult r;
  r.exit_codes.assign(pids.size(), -1);
  std::vector<bool> done(pids.size(), false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  size_t remaining = pids.size();
  while (remaining > 0) {
    for (size_t i = 0; i < pids.size(); ++i) {
      int status = 0;
      if (done[i] || ::waitpid(pids[i], &status, WNOHANG) != pids[i]) continue;
      done[i] = true;
      --remaining;
      r.exit_codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (remaining > 0 && std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      for (size_t i = 0; i < pids.size(); ++i)
        if (!done[i]) ::kill(pids[i], SIGKILL);
    }
    if (remaining > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return r;
}

}  // namespace ma::test
