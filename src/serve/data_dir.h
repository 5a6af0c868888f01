// Layout of the server's --data folder:
//   jobs.sqlite            job records (job_store.h)
//   jobs/<id>/             one job: source.<ext>, motion.<ext>, result.mp4, grid.mp4
//   staging/<id>/          an upload being validated; renamed into jobs/ when accepted
// Uploads only become a job folder by an atomic rename, so a crash never leaves
// a job pointing at half-written inputs.
#pragma once
#include <set>
#include <string>

namespace ma::serve {

class DataDir {
 public:
  explicit DataDir(const std::string& root);  // creates the folders

  const std::string& root() const { return root_; }
  std::string db_path() const { return root_ + "/jobs.sqlite"; }
  std::string job_dir(const std::string& id) const { return root_ + "/jobs/" + id; }
  std::string staging_dir(const std::string& id) const { return root_ + "/staging/" + id; }
  std::string result_path(const std::string& id) const { return job_dir(id) + "/result.mp4"; }
  std::string grid_path(const std::string& id) const { return job_dir(id) + "/grid.mp4"; }

  std::string make_staging(const std::string& id) const;  // empty folder
  void commit_staging(const std::string& id) const;       // staging/<id> -> jobs/<id>
  void remove_staging(const std::string& id) const;       // never throws
  void remove_job(const std::string& id) const;           // never throws

  // After a restart: drops leftover uploads and job folders no record knows.
  void remove_orphans(const std::set<std::string>& known_ids) const;

 private:
  std::string root_;
};

// 16 random hex digits.
std::string new_job_id();
// True for ids new_job_id() could have made: safe to put in a path.
bool is_valid_job_id(const std::string& id);

}  // namespace ma::serve
