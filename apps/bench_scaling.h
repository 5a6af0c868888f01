// `magicanimate bench --nproc N`: the multi-process speed-up of animation on
// this machine. The same random-weight animation (several windows per step)
// runs on 1 process and on N (spawned as --nproc does, the cores divided
// among them); it reports wall time, speed-up, efficiency and what the
// all-reduce moved and cost per step.
#pragma once
#include "apps/dist_options.h"
#include "bench/benchmark.h"

namespace ma::app {

// The launcher's part (prints the table or JSON); or, in a worker, one run.
int run_bench_scaling(const bench::BenchOptions& options, const DistOptions& dist, bool json);

}  // namespace ma::app
