#include "serve/job_store.h"

#include <sqlite3.h>

#include "util/error.h"

namespace ma::serve {
namespace {

// A prepared statement that finalizes itself, and throws ma::Error naming the
// database on any failure.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v) {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  // true while rows come back; false when done.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
    return false;
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
  }
  [[noreturn]] void fail(const char* what) {
    throw Error("job database " + path_ + ": " + what + " failed: " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr const char* kColumns =
    "seq, id, status, params, source_name, motion_name, source_upload, motion_upload, frames, "
    "created_at, started_at, finished_at, error, has_result, has_grid";

JobRecord read_row(const Statement& s) {
  JobRecord j;
  j.seq = s.integer(0);
  j.id = s.text(1);
  j.status = job_status_from_string(s.text(2));
  j.params = job_params_from_json(nlohmann::json::parse(s.text(3)));
  j.source_name = s.text(4);
  j.motion_name = s.text(5);
  j.source_upload = s.text(6);
  j.motion_upload = s.text(7);
  j.frames = s.integer(8);
  j.created_at = s.integer(9);
  j.started_at = s.integer(10);
  j.finished_at = s.integer(11);
  j.error = s.text(12);
  j.has_result = s.integer(13) != 0;
  j.has_grid = s.integer(14) != 0;
  return j;
}

}  // namespace

JobStore::JobStore(const std::string& db_path) : path_(db_path) {
  int rc = sqlite3_open_v2(db_path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error("cannot open job database " + db_path + ": " + why);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    // WAL + FULL sync: a committed job survives a crash or power loss.
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec(
        "CREATE TABLE IF NOT EXISTS jobs ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE,"
        " status TEXT NOT NULL,"
        " params TEXT NOT NULL,"
        " source_name TEXT NOT NULL, motion_name TEXT NOT NULL,"
        " source_upload TEXT NOT NULL, motion_upload TEXT NOT NULL,"
        " frames INTEGER NOT NULL DEFAULT 0,"
        " created_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0,"
        " finished_at INTEGER NOT NULL DEFAULT 0,"
        " error TEXT NOT NULL DEFAULT '',"
        " has_result INTEGER NOT NULL DEFAULT 0, has_grid INTEGER NOT NULL DEFAULT 0)");
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

JobStore::~JobStore() { sqlite3_close(db_); }

void JobStore::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string why = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    throw Error("job database " + path_ + ": " + why);
  }
}

void JobStore::insert(JobRecord& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, path_,
              "INSERT INTO jobs (id, status, params, source_name, motion_name, source_upload, motion_upload,"
              " frames, created_at, started_at, finished_at, error, has_result, has_grid)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  s.bind(1, job.id)
      .bind(2, std::string(to_string(job.status)))
      .bind(3, to_json(job.params).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
      .bind(4, job.source_name)
      .bind(5, job.motion_name)
      .bind(6, job.source_upload)
      .bind(7, job.motion_upload)
      .bind(8, job.frames)
      .bind(9, job.created_at)
      .bind(10, job.started_at)
      .bind(11, job.finished_at)
      .bind(12, job.error)
      .bind(13, int64_t(job.has_result))
      .bind(14, int64_t(job.has_grid));
  s.step();
  job.seq = sqlite3_last_insert_rowid(db_);
}

void JobStore::update(const JobRecord& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, path_,
              "UPDATE jobs SET status = ?2, frames = ?3, started_at = ?4, finished_at = ?5, error = ?6,"
              " has_result = ?7, has_grid = ?8 WHERE id = ?1");
  s.bind(1, job.id)
      .bind(2, std::string(to_string(job.status)))
      .bind(3, job.frames)
      .bind(4, job.started_at)
      .bind(5, job.finished_at)
      .bind(6, job.error)
      .bind(7, int64_t(job.has_result))
      .bind(8, int64_t(job.has_grid));
  s.step();
}

std::optional<JobRecord> JobStore::get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, path_, (std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?1").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

std::vector<JobRecord> JobStore::list() {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, path_, (std::string("SELECT ") + kColumns + " FROM jobs ORDER BY seq").c_str());
  std::vector<JobRecord> jobs;
  while (s.step()) jobs.push_back(read_row(s));
  return jobs;
}

void JobStore::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, path_, "DELETE FROM jobs WHERE id = ?1");
  s.bind(1, id);
  s.step();
}

}  // namespace ma::serve
