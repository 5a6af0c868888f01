// Job records in SQLite (<data>/jobs.sqlite): the server's memory across
// restarts. Every change is one committed statement, so a crash leaves either
// the old or the new record, never half of one. Thread-safe.
#pragma once
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "serve/job.h"

struct sqlite3;

namespace ma::serve {

class JobStore {
 public:
  explicit JobStore(const std::string& db_path);  // creates the file and schema if needed
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Adds a new job; sets job.seq (submission order). Throws on a duplicate id.
  void insert(JobRecord& job);
  // Rewrites the job's mutable fields (status, times, frames, error, outputs).
  void update(const JobRecord& job);
  std::optional<JobRecord> get(const std::string& id);
  std::vector<JobRecord> list();  // oldest first
  void remove(const std::string& id);

 private:
  void exec(const char* sql);
  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace ma::serve
