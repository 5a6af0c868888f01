#include "serve/data_dir.h"

#include <filesystem>
#include <mutex>
#include <random>

#include "util/error.h"

namespace fs = std::filesystem;

namespace ma::serve {

DataDir::DataDir(const std::string& root) : root_(root) {
  std::error_code ec;
  for (const char* sub : {"jobs", "staging"}) {
    fs::create_directories(fs::path(root_) / sub, ec);
    if (ec) throw Error("cannot create data folder " + (fs::path(root_) / sub).string() + ": " + ec.message());
  }
}

std::string DataDir::make_staging(const std::string& id) const {
  std::string dir = staging_dir(id);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!fs::create_directory(dir, ec) || ec)
    throw Error("cannot create upload folder " + dir + ": " + (ec ? ec.message() : "already exists"));
  return dir;
}

void DataDir::commit_staging(const std::string& id) const {
  std::error_code ec;
  fs::rename(staging_dir(id), job_dir(id), ec);
  if (ec) throw Error("cannot move upload into " + job_dir(id) + ": " + ec.message());
}

void DataDir::remove_staging(const std::string& id) const {
  std::error_code ec;
  fs::remove_all(staging_dir(id), ec);
}

void DataDir::remove_job(const std::string& id) const {
  std::error_code ec;
  fs::remove_all(job_dir(id), ec);
}

void DataDir::remove_orphans(const std::set<std::string>& known_ids) const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(root_) / "staging", ec)) {
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
  for (const auto& entry : fs::directory_iterator(fs::path(root_) / "jobs", ec)) {
    std::string name = entry.path().filename().string();
    if (!known_ids.count(name)) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
}

std::string new_job_id() {
  static std::mutex mutex;
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t value;
  {
    std::lock_guard<std::mutex> lock(mutex);
    value = rng();
  }
  static const char* hex = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) id[i] = hex[value & 15];
  return id;
}

bool is_valid_job_id(const std::string& id) {
  if (id.size() != 16) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace ma::serve
