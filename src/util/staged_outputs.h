// Output files of a job are written under temporary names next to their final
// place and moved there together once everything is complete, so a failed or
// interrupted run never leaves a half-written result behind.
#pragma once
#include <string>
#include <vector>

namespace ma {

class StagedOutputs {
 public:
  StagedOutputs() = default;
  ~StagedOutputs();  // removes whatever was staged but not committed
  StagedOutputs(const StagedOutputs&) = delete;
  StagedOutputs& operator=(const StagedOutputs&) = delete;

  // A temporary file path in the folder of `final_path` (created if missing),
  // keeping its extension so encoders that look at it still see it.
  std::string file(const std::string& final_path);

  // A fresh temporary folder next to `final_dir` (an existing final folder is
  // kept: committed files are moved into it, replacing those of the same name).
  std::string folder(const std::string& final_dir);

  // Moves every staged output to its final name; returns the final paths.
  std::vector<std::string> commit();

  // Removes staged outputs and the folders created for them.
  void discard();

 private:
  struct Entry {
    std::string temp, final;
    bool is_folder;
  };
  void make_parent_folders(const std::string& path);
  std::vector<Entry> entries_;
  std::vector<std::string> created_folders_;  // in creation order
};

// Checks, without creating anything, that `path` could be written: its nearest
// existing ancestor folder is writable and `path` itself is not a folder (or,
// with `want_folder`, not a file). Throws ma::Error naming `what` and the path.
void check_output_path(const std::string& path, const std::string& what, bool want_folder = false);

}  // namespace ma
