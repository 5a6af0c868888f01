#include "serve/job.h"

#include "util/error.h"

namespace ma::serve {

const char* to_string(JobStatus status) {
  switch (status) {
    case JobStatus::queued: return "queued";
    case JobStatus::running: return "running";
    case JobStatus::done: return "done";
    case JobStatus::failed: return "failed";
    case JobStatus::cancelled: return "cancelled";
  }
  return "failed";
}

JobStatus job_status_from_string(const std::string& text) {
  for (JobStatus s : {JobStatus::queued, JobStatus::running, JobStatus::done, JobStatus::failed,
                      JobStatus::cancelled})
    if (text == to_string(s)) return s;
  throw Error("unknown job status '" + text + "'");
}

nlohmann::json to_json(const JobParams& p) {
  // "size" is kept for square jobs (every job before width/height existed); null otherwise.
  nlohmann::json size = p.width == p.height ? nlohmann::json(p.width) : nlohmann::json(nullptr);
  return {{"steps", p.steps},     {"scheduler", p.scheduler}, {"guidance", p.guidance}, {"seed", p.seed},
          {"size", size},
          {"width", p.width},     {"height", p.height},
          {"context", p.context}, {"overlap", p.overlap},   {"L", p.length_multiple}, {"prompt", p.prompt},
          {"extract_pose", p.extract_pose}, {"deep_cache", p.deep_cache}};
}

JobParams job_params_from_json(const nlohmann::json& j) {
  JobParams p;
  p.steps = j.value("steps", p.steps);
  p.scheduler = j.value("scheduler", p.scheduler);  // absent in jobs stored before it existed: DDIM
  p.guidance = j.value("guidance", p.guidance);
  p.deep_cache = j.value("deep_cache", p.deep_cache);  // absent in jobs stored before it existed: off
  p.seed = j.value("seed", p.seed);
  // Jobs stored before width/height existed have only "size".
  if (j.contains("width") && j.contains("height")) {
    p.width = j["width"].get<int64_t>();
    p.height = j["height"].get<int64_t>();
  } else if (j.contains("size") && j["size"].is_number_integer()) {
    p.set_size(j["size"].get<int64_t>());
  }
  p.context = j.value("context", p.context);
  p.overlap = j.value("overlap", p.overlap);
  p.length_multiple = j.value("L", p.length_multiple);  // absent in jobs stored before it existed
  p.prompt = j.value("prompt", p.prompt);
  p.extract_pose = j.value("extract_pose", p.extract_pose);
  return p;
}

nlohmann::json to_json(const JobProgress& p) {
  nlohmann::json j = {{"phase", p.phase},         {"step", p.step},       {"steps", p.steps},
                      {"window", p.window},       {"windows", p.windows}, {"fraction", p.fraction},
                      {"elapsed_s", p.elapsed_s}, {"eta_s", nullptr}};
  if (p.eta_s >= 0) j["eta_s"] = p.eta_s;
  return j;
}

nlohmann::json to_json(const JobRecord& job, const JobProgress* progress, int64_t queue_position) {
  const std::string base = "/v1/animations/" + job.id;
  nlohmann::json j = {{"id", job.id},
                      {"status", to_string(job.status)},
                      {"params", to_json(job.params)},
                      {"frames", job.frames},
                      {"inputs", {{"source", job.source_upload}, {"motion", job.motion_upload}}},
                      {"created_at", job.created_at},
                      {"started_at", job.started_at ? nlohmann::json(job.started_at) : nlohmann::json()},
                      {"finished_at", job.finished_at ? nlohmann::json(job.finished_at) : nlohmann::json()},
                      {"error", job.error.empty() ? nlohmann::json() : nlohmann::json(job.error)},
                      {"events_url", base + "/events"}};
  if (progress) {
    j["progress"] = to_json(*progress);
    if (job.status != JobStatus::running) j["progress"]["eta_s"] = nullptr;  // a stopped job has none
    j["eta_s"] = j["progress"]["eta_s"];
  } else {
    j["progress"] = nullptr;
    j["eta_s"] = nullptr;
  }
  if (job.status == JobStatus::queued) j["queue_position"] = queue_position;
  if (job.has_result) j["result_url"] = base + "/result.mp4";
  if (job.has_grid) j["grid_url"] = base + "/grid.mp4";
  return j;
}

}  // namespace ma::serve
