// The seam between the job queue and the engine: the queue hands a runner one
// job's files and parameters, the runner produces the result videos. The real
// runner (engine_runner.h) drives ma::Animator; tests plug in a fake one.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "pipeline/animation.h"
#include "serve/job.h"

namespace ma::serve {

struct JobSpec {
  std::string id;
  JobParams params;
  std::string source_path, motion_path;  // inputs, already validated
  std::string result_path, grid_path;    // outputs to write (complete files or none)
};

struct JobOutcome {
  int64_t frames = 0;  // frames in result.mp4
  bool grid = false;   // grid.mp4 written
};

using ProgressSink = std::function<void(const ProgressEvent&)>;

// Runs one job to completion on the calling thread. Reports progress through
// `progress`; throws ma::Cancelled soon after `stop` becomes true, ma::Error
// (or any std::exception) when the job fails.
using JobRunner = std::function<JobOutcome(const JobSpec& job, const ProgressSink& progress,
                                           const std::atomic<bool>& stop)>;

}  // namespace ma::serve
