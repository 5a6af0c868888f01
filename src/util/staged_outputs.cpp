#include "util/staged_outputs.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "util/error.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

// Unique per process and call, so a temporary never collides with (or
// deletes) anything the user owns or another running job wrote.
std::string temp_suffix() {
  static int counter = 0;
  return ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

fs::path parent_or_cwd(const fs::path& p) {
  fs::path parent = p.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// access() says yes to root everywhere and knows nothing of read-only mounts
// or special file systems, so create (and remove) a probe file.
bool folder_accepts_files(const fs::path& folder) {
  if (::access(folder.c_str(), W_OK | X_OK) != 0) return false;
  std::string probe = (folder / ".magicanimate-probe-XXXXXX").string();
  int fd = ::mkstemp(probe.data());
  if (fd < 0) return false;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

}  // namespace

StagedOutputs::~StagedOutputs() { discard(); }

void StagedOutputs::make_parent_folders(const std::string& path) {
  fs::path parent = parent_or_cwd(fs::path(path));
  std::vector<fs::path> missing;
  for (fs::path p = parent; !p.empty() && !fs::exists(p); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    std::error_code ec;
    if (!fs::create_directory(*it, ec) && ec) throw Error("cannot create folder " + it->string() + ": " + ec.message());
    created_folders_.push_back(it->string());
  }
}

std::string StagedOutputs::file(const std::string& final_path) {
  make_parent_folders(final_path);
  fs::path final(final_path);
  std::string temp = final_path + temp_suffix() + final.extension().string();
  entries_.push_back({temp, final_path, false});
  return temp;
}

std::string StagedOutputs::folder(const std::string& final_dir) {
  std::string final = fs::path(final_dir).lexically_normal().string();
  while (final.size() > 1 && final.back() == '/') final.pop_back();
  make_parent_folders(final);
  std::string temp = final + temp_suffix();
  std::error_code ec;
  if (!fs::create_directory(temp, ec))
    throw Error("cannot create folder " + temp + ": " + (ec ? ec.message() : "it exists"));
  entries_.push_back({temp, final, true});
  return temp;
}

std::vector<std::string> StagedOutputs::commit() {
  std::vector<std::string> done;
  for (const Entry& e : entries_) {
    std::error_code ec;
    if (!e.is_folder || !fs::exists(e.final)) {
      fs::rename(e.temp, e.final, ec);
      if (ec) throw Error("cannot move " + e.temp + " to " + e.final + ": " + ec.message());
    } else {
      for (const auto& item : fs::directory_iterator(e.temp)) {
        fs::path target = fs::path(e.final) / item.path().filename();
        fs::rename(item.path(), target, ec);
        if (ec) throw Error("cannot move " + item.path().string() + " to " + target.string() + ": " + ec.message());
      }
      fs::remove(e.temp, ec);
    }
    done.push_back(e.final);
  }
  entries_.clear();
  created_folders_.clear();
  return done;
}

void StagedOutputs::discard() {
  std::error_code ec;
  for (const Entry& e : entries_) {
    fs::remove_all(e.temp, ec);  // folders: ours, created by folder()
    // A writer that appends its own suffix may have left it behind.
    fs::remove(e.temp + ".partial", ec);
  }
  entries_.clear();
  // Remove the folders we created, deepest first, only while they are empty.
  for (auto it = created_folders_.rbegin(); it != created_folders_.rend(); ++it) fs::remove(*it, ec);
  created_folders_.clear();
}

void check_output_path(const std::string& path, const std::string& what, bool want_folder) {
  if (path.empty()) throw Error(what + ": empty path");
  fs::path p(path);
  std::error_code ec;
  if (fs::exists(p, ec)) {
    bool is_folder = fs::is_directory(p, ec);
    if (is_folder && !want_folder) throw Error(what + " " + path + " is a folder, expected a file name");
    if (!is_folder && want_folder) throw Error(what + " " + path + " exists and is not a folder");
  }
  fs::path ancestor = parent_or_cwd(p);
  while (!fs::exists(ancestor, ec)) {
    fs::path up = ancestor.parent_path();
    if (up.empty() || up == ancestor) {
      ancestor = ".";
      break;
    }
    ancestor = up;
  }
  if (!fs::is_directory(ancestor, ec)) throw Error(what + " " + path + ": " + ancestor.string() + " is not a folder");
  if (!folder_accepts_files(ancestor))
    throw Error(what + " " + path + ": folder " + ancestor.string() + " is not writable");
  if (want_folder && fs::is_directory(p, ec) && !folder_accepts_files(p))
    throw Error(what + " " + path + ": folder is not writable");
}

}  // namespace ma
