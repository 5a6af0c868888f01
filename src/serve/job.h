// What the server knows about one animation job: its parameters, where its
// files live, its state, and its live progress. Plain data, shared by the
// store (SQLite), the queue (worker thread) and the HTTP layer (JSON).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "pipeline/animation.h"

namespace ma::serve {

enum class JobStatus { queued, running, done, failed, cancelled };

const char* to_string(JobStatus status);
JobStatus job_status_from_string(const std::string& text);  // throws ma::Error
inline bool is_finished(JobStatus s) { return s == JobStatus::done || s == JobStatus::failed || s == JobStatus::cancelled; }

// The knobs a client may set (kParamFields); defaults come from the server's
// options, whose own defaults are the engine's. The output is the inherited
// width x height: a client's `size` sets both (square), a job that gives none
// keeps the server's default (its --size, else the models' native size, which
// may be non-square, else 512).
struct JobParams : AnimationParams {
  bool extract_pose = false;  // the motion upload is a raw video: make its DensePose motion first

  void set_size(int64_t size) { width = height = size; }
  // The engine's parameters of this job.
  AnimationParams animation() const { return *this; }
};
nlohmann::json to_json(const JobParams& params);
JobParams job_params_from_json(const nlohmann::json& json);  // missing keys keep their defaults

// Live progress of a running job (kept in memory only: a restarted job starts over).
struct JobProgress {
  std::string phase;                // "", "pose" (extract_pose), "encode", "denoise", "decode", "write", "done"
  int64_t step = 0, steps = 0;      // denoising step, 1-based once started
  int64_t window = 0, windows = 0;  // context windows done in the current step
  double elapsed_s = 0;
  double eta_s = -1;                // -1: not known yet
  double fraction = 0;              // 0..1 over the whole job
};
nlohmann::json to_json(const JobProgress& progress);

struct JobRecord {
  std::string id;
  int64_t seq = 0;  // submission order: the queue is FIFO on it
  JobStatus status = JobStatus::queued;
  JobParams params;
  std::string source_name, motion_name;  // file names inside the job's folder
  std::string source_upload, motion_upload;  // client's file names (display only)
  int64_t frames = 0;                    // motion frames = result frames
  int64_t created_at = 0, started_at = 0, finished_at = 0;  // unix seconds, 0: not yet
  std::string error;
  bool has_result = false, has_grid = false;
};

// The job as the API shows it; `progress` and `queue_position` come from the queue.
nlohmann::json to_json(const JobRecord& job, const JobProgress* progress, int64_t queue_position);

}  // namespace ma::serve
