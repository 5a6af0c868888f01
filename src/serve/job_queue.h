// The jobs the server knows, and the single worker thread that runs them one
// at a time in submission order (the engine is not re-entrant, and one job at
// a time already uses every core). Records are mirrored to the JobStore on
// every change so a restart loses nothing: finished jobs stay, queued and
// interrupted ones run again.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "serve/data_dir.h"
#include "serve/job.h"
#include "serve/job_runner.h"
#include "serve/job_store.h"

namespace ma::serve {

// A consistent copy of one job for the API.
struct JobView {
  JobRecord record;
  std::optional<JobProgress> progress;  // while running, and the last state when done
  int64_t queue_position = 0;           // 1 = runs next; 0 when not queued
  uint64_t version = 0;                 // changes whenever anything above changes
};

class JobQueue {
 public:
  // max_waiting: submissions beyond this many queued jobs are refused (503).
  JobQueue(JobStore& store, const DataDir& data, JobRunner runner, size_t max_waiting = 1000);
  ~JobQueue();  // stops the worker; a running job is interrupted and stays queued
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Loads the store, re-queues queued and interrupted jobs, starts the worker.
  void start();
  // Interrupts the running job (it will run again after a restart) and joins the worker.
  void stop();

  // Records a job whose inputs are already in data.job_dir(id), and queues it.
  // Throws RequestError(503) when the queue is full.
  void submit(JobRecord job);

  enum class RemoveResult { not_found, cancelled, deleted };
  // Queued or running: cancelled (kept, listed as "cancelled"). Finished: the
  // record and its files are deleted.
  RemoveResult remove(const std::string& id);

  std::optional<JobView> find(const std::string& id) const;
  std::vector<JobView> list() const;  // newest first
  size_t waiting() const;

  // Blocks until job `id` changes past version `seen`, the timeout passes or
  // the queue stops. Returns the job's current version (0 if it is gone).
  uint64_t wait_for_change(const std::string& id, uint64_t seen, std::chrono::milliseconds timeout) const;
  bool stopping() const { return stopping_; }

 private:
  void worker_loop();
  void run_one(const std::string& id, std::unique_lock<std::mutex>& lock);
  void on_progress(const std::string& id, const ProgressEvent& event);
  void changed(const std::string& id);  // caller holds mutex_
  JobView view(const JobRecord& job) const;  // caller holds mutex_
  void persist(const JobRecord& job);  // caller holds mutex_; a failing store is logged, not fatal

  JobStore& store_;
  const DataDir& data_;
  JobRunner runner_;
  size_t max_waiting_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_cv_;  // SSE waiters
  std::condition_variable work_cv_;             // the worker
  std::map<std::string, JobRecord> jobs_;
  std::map<std::string, JobProgress> progress_;
  std::map<std::string, uint64_t> versions_;
  uint64_t version_counter_ = 0;
  std::deque<std::string> waiting_;  // FIFO of queued ids
  std::string running_id_;
  std::atomic<bool> cancel_running_{false};
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace ma::serve
