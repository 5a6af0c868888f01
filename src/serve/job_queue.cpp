#include "serve/job_queue.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "serve/request_error.h"

namespace ma::serve {
namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// Share of the whole job done when the engine reports `e`: denoising is nearly
// all the work, encoding/decoding the latents and writing the videos the rest.
double job_fraction(const ProgressEvent& e) {
  if (e.phase == "encode") return 0.02;
  if (e.phase == "denoise" && e.steps > 0) {
    double windows = std::max<int64_t>(e.windows, 1);
    double done = (std::max<int64_t>(e.step, 1) - 1) * windows + std::min<double>(e.window, windows);
    return 0.02 + 0.93 * std::clamp(done / (e.steps * windows), 0.0, 1.0);
  }
  if (e.phase == "decode") return 0.95;
  if (e.phase == "write") return 0.97;
  if (e.phase == "done") return 1.0;
  return 0.0;
}

}  // namespace

JobQueue::JobQueue(JobStore& store, const DataDir& data, JobRunner runner, size_t max_waiting)
    : store_(store), data_(data), runner_(std::move(runner)), max_waiting_(max_waiting) {}

JobQueue::~JobQueue() { stop(); }

void JobQueue::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::set<std::string> known;
  for (JobRecord& job : store_.list()) {
    known.insert(job.id);
    if (!is_finished(job.status)) {
      // Queued, or running when the server went down: run it (again) from the start.
      job.status = JobStatus::queued;
      job.started_at = 0;
      job.has_result = job.has_grid = false;
      std::string dir = data_.job_dir(job.id);
      if (!file_exists(dir + "/" + job.source_name) || !file_exists(dir + "/" + job.motion_name)) {
        job.status = JobStatus::failed;
        job.error = "input files are missing from " + dir;
        job.finished_at = unix_now();
      } else {
        waiting_.push_back(job.id);
      }
      persist(job);
    }
    versions_[job.id] = ++version_counter_;
    jobs_[job.id] = job;
  }
  data_.remove_orphans(known);
  worker_ = std::thread([this] { worker_loop(); });
}

void JobQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    cancel_running_ = true;
  }
  work_cv_.notify_all();
  changed_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void JobQueue::submit(JobRecord job) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) throw RequestError(503, "server is shutting down");
  if (waiting_.size() >= max_waiting_)
    throw RequestError(503, "queue is full (" + std::to_string(waiting_.size()) + " jobs waiting)");
  job.status = JobStatus::queued;
  if (!job.created_at) job.created_at = unix_now();
  store_.insert(job);
  jobs_[job.id] = job;
  waiting_.push_back(job.id);
  changed(job.id);
  work_cv_.notify_one();
}

JobQueue::RemoveResult JobQueue::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return RemoveResult::not_found;
  JobRecord& job = it->second;
  if (id == running_id_) {
    // Cancelled now as far as clients see; the worker drops the outputs when
    // the engine notices (between windows). Deleting waits until then.
    if (job.status == JobStatus::running) {
      job.status = JobStatus::cancelled;
      job.finished_at = unix_now();
      cancel_running_ = true;
      persist(job);
      changed(id);
    }
    return RemoveResult::cancelled;
  }
  if (job.status == JobStatus::queued) {
    job.status = JobStatus::cancelled;
    job.finished_at = unix_now();
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), id), waiting_.end());
    persist(job);
    changed(id);
    for (const std::string& other : waiting_) changed(other);  // positions moved up
    return RemoveResult::cancelled;
  }
  store_.remove(id);
  data_.remove_job(id);
  jobs_.erase(it);
  progress_.erase(id);
  versions_.erase(id);
  changed_cv_.notify_all();
  return RemoveResult::deleted;
}

std::optional<JobView> JobQueue::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return view(it->second);
}

std::vector<JobView> JobQueue::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<JobView> views;
  for (const auto& [id, job] : jobs_) views.push_back(view(job));
  std::sort(views.begin(), views.end(),
            [](const JobView& a, const JobView& b) { return a.record.seq > b.record.seq; });
  return views;
}

size_t JobQueue::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_.size();
}

uint64_t JobQueue::wait_for_change(const std::string& id, uint64_t seen,
                                   std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  auto current = [&]() -> uint64_t {
    auto it = versions_.find(id);
    return it == versions_.end() ? 0 : it->second;
  };
  changed_cv_.wait_for(lock, timeout, [&] { return stopping_ || current() != seen; });
  return current();
}

void JobQueue::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    std::string id = waiting_.front();
    waiting_.pop_front();
    run_one(id, lock);
  }
}

void JobQueue::run_one(const std::string& id, std::unique_lock<std::mutex>& lock) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.status != JobStatus::queued) return;
  JobRecord& job = it->second;
  job.status = JobStatus::running;
  job.started_at = unix_now();
  job.error.clear();
  persist(job);
  progress_[id] = JobProgress{"start"};
  running_id_ = id;
  cancel_running_ = stopping_.load();
  changed(id);
  for (const std::string& other : waiting_) changed(other);

  const std::string dir = data_.job_dir(id);
  JobSpec spec{id, job.params, dir + "/" + job.source_name, dir + "/" + job.motion_name, data_.result_path(id),
               data_.grid_path(id)};
  const auto started = std::chrono::steady_clock::now();

  lock.unlock();
  JobOutcome outcome;
  std::string error;
  bool interrupted = false;
  try {
    outcome = runner_(
        spec,
        [this, id, started](const ProgressEvent& e) {
          ProgressEvent copy = e;
          copy.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
          on_progress(id, copy);
        },
        cancel_running_);
  } catch (const Cancelled&) {
    interrupted = true;
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "the job failed";
  } catch (...) {
    error = "the job failed (unknown error)";
  }
  lock.lock();

  running_id_.clear();
  it = jobs_.find(id);
  if (it == jobs_.end()) return;
  JobRecord& finished = it->second;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  bool keep_outputs = false;
  if (finished.status == JobStatus::cancelled) {
    // Cancelled by a client while running: already recorded.
  } else if (interrupted && stopping_) {
    finished.status = JobStatus::queued;  // the server is going down: run it again next time
    finished.started_at = 0;
    progress_.erase(id);
  } else if (interrupted) {
    finished.status = JobStatus::cancelled;
    finished.finished_at = unix_now();
  } else if (!error.empty()) {
    finished.status = JobStatus::failed;
    finished.error = error;
    finished.finished_at = unix_now();
  } else if (!file_exists(spec.result_path)) {
    finished.status = JobStatus::failed;
    finished.error = "the engine wrote no result video";
    finished.finished_at = unix_now();
  } else {
    finished.status = JobStatus::done;
    finished.frames = outcome.frames;
    finished.has_result = true;
    finished.has_grid = outcome.grid && file_exists(spec.grid_path);
    finished.finished_at = unix_now();
    JobProgress& p = progress_[id];
    p.phase = "done";
    p.fraction = 1.0;
    p.eta_s = 0;
    p.elapsed_s = elapsed;
    keep_outputs = true;
  }
  if (!keep_outputs) {
    remove_file(spec.result_path);
    remove_file(spec.grid_path);
    finished.has_result = finished.has_grid = false;
  }
  persist(finished);
  changed(id);
}

void JobQueue::on_progress(const std::string& id, const ProgressEvent& e) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (id != running_id_) return;
  JobProgress& p = progress_[id];
  p.phase = e.phase;
  if (e.steps > 0) {
    p.step = e.step;
    p.steps = e.steps;
  }
  if (e.windows > 0) {
    p.window = e.window;
    p.windows = e.windows;
  }
  p.elapsed_s = e.elapsed_s;
  p.fraction = std::max(p.fraction, job_fraction(e));
  if (e.eta_s >= 0)
    p.eta_s = e.eta_s;
  else if (p.fraction > 0.02 && p.fraction < 1.0)
    p.eta_s = p.elapsed_s * (1.0 - p.fraction) / p.fraction;
  changed(id);
}

void JobQueue::changed(const std::string& id) {
  versions_[id] = ++version_counter_;
  changed_cv_.notify_all();
}

JobView JobQueue::view(const JobRecord& job) const {
  JobView v;
  v.record = job;
  auto p = progress_.find(job.id);
  if (p != progress_.end()) {
    v.progress = p->second;
  } else if (job.status == JobStatus::done) {  // finished before a restart
    JobProgress done{"done"};
    done.step = done.steps = job.params.steps;
    done.fraction = 1.0;
    done.eta_s = 0;
    done.elapsed_s = static_cast<double>(job.finished_at - job.started_at);
    v.progress = done;
  }
  if (job.status == JobStatus::queued) {
    auto pos = std::find(waiting_.begin(), waiting_.end(), job.id);
    if (pos != waiting_.end()) v.queue_position = (pos - waiting_.begin()) + 1;
  }
  auto ver = versions_.find(job.id);
  v.version = ver == versions_.end() ? 0 : ver->second;
  return v;
}

void JobQueue::persist(const JobRecord& job) {
  try {
    store_.update(job);
  } catch (const std::exception& e) {
    // The in-memory state stays right; only a restart would see the old row.
    std::cerr << "magicanimate serve: " << e.what() << "\n";
  }
}

}  // namespace ma::serve
