// The multi-process options every command that can scale out shares
// (--nproc, --dist-timeout, --master-addr), and what they set up: launching
// local workers, joining the group, and handing the pipeline its share.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "dist/communicator.h"
#include "dist/launch_env.h"
#include "pipeline/denoise_windows.h"

namespace ma::app {

struct DistOptions {
  int nproc = 1;
  int timeout_s = dist::kDefaultTimeoutSeconds;
  std::string master_addr;  // overrides MASTER_ADDR (Slurm jobs)
};

void add_dist_options(CLI::App& app, DistOptions& o);

// With --nproc N > 1 in a process no launcher started: runs N workers of
// this same command line and returns their combined exit status (0, or
// throws ma::Error / ma::Cancelled). std::nullopt: this process is a rank
// (or the only one) and does the work itself.
std::optional<int> launch_workers(const DistOptions& o);

// This process's place in the run and its connection to the others.
struct DistRun {
  dist::LaunchEnv env;
  std::shared_ptr<dist::Communicator> comm;
  bool leader() const { return env.rank == 0; }  // writes outputs, logs
  // windows[rank::world], the sums all-reduced over `comm`.
  WindowShare window_share() const;
  // rank 0's value on every rank (seeds drawn at random, say).
  uint64_t agree(uint64_t value) const;
  // --threads 0 ("every core") divided among the ranks on this host.
  int threads(int requested) const;
};

// Reads the launcher's variables and connects (a world of 1 connects nothing).
DistRun join_run(const DistOptions& o);

}  // namespace ma::app
