#include "apps/animate_dataset.h"

#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "eval/frame_set.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma::app {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::vector<std::string> selected_names(const std::string& videos) {
  std::vector<std::string> names;
  std::error_code ec;
  if (fs::is_regular_file(videos, ec)) {
    std::ifstream in(videos);
    if (!in) throw Error("--videos: cannot read " + videos);
    for (std::string line; std::getline(in, line);) {
      line = trim(line.substr(0, line.find('#')));
      if (!line.empty()) names.push_back(line);
    }
    if (names.empty()) throw Error("--videos file " + videos + " names no video");
    return names;
  }
  for (size_t start = 0; start <= videos.size();) {
    const size_t comma = std::min(videos.find(',', start), videos.size());
    const std::string name = trim(videos.substr(start, comma - start));
    if (!name.empty()) names.push_back(name);
    start = comma + 1;
  }
  if (names.empty()) throw Error("--videos '" + videos + "' names no video");
  return names;
}

// Frame positions used: offset .. offset + max_frames (max_frames < 0: to the end).
std::vector<int64_t> used_frames(const FileAnimation& job, int64_t length) {
  const int64_t end = job.max_frames < 0 ? length : std::min(length, job.offset + job.max_frames);
  std::vector<int64_t> index;
  for (int64_t i = job.offset; i < end; ++i) index.push_back(i);
  return index;
}

}  // namespace

DatasetJobs plan_dataset_jobs(const std::string& dir, const std::string& videos, const std::string& out_dir,
                              const FileAnimation& base) {
  // Only the chosen videos are scanned (the scan decodes every frame once).
  data::ScanOptions scan;
  if (!videos.empty()) scan.only = selected_names(videos);
  std::error_code ec;
  for (const std::string& name : scan.only)
    if (!fs::is_directory(fs::path(dir) / "videos", ec) && !fs::is_directory(fs::path(dir) / name, ec))
      throw Error("--videos: the dataset " + dir + " has no video '" + name + "'");
  DatasetJobs plan{data::Dataset::scan(dir, scan), {}, {}};
  std::vector<size_t> chosen(plan.dataset.size());
  std::iota(chosen.begin(), chosen.end(), 0);
  if (!videos.empty()) {
    chosen.clear();
    std::set<size_t> seen;
    for (const std::string& name : scan.only) {
      size_t c = 0;
      while (c < plan.dataset.size() && plan.dataset.clip(c).name != name) ++c;
      if (c == plan.dataset.size()) throw Error("--videos: the dataset " + dir + " has no video '" + name + "'");
      if (seen.insert(c).second) chosen.push_back(c);
    }
  }
  for (size_t c : chosen) {
    const data::Clip& clip = plan.dataset.clip(c);
    if (clip.frames == clip.poses || !fs::is_directory(clip.frames))
      throw Error("--dataset " + dir + " is not in the TikTok layout (<video>/images + <video>/densepose)");
    const eval::FrameSet frames = eval::list_frame_set(clip.frames, "--dataset");
    const eval::VideoEntry& v = frames.videos.at(0);
    FileAnimation job = base;
    job.source = v.frame_files.at(0);  // DisCo: the reference is the video's first frame
    job.motion = clip.poses;
    job.video_out = job.grid_out = job.control_out = job.source_out = "";
    job.frames_out = (fs::path(out_dir) / clip.name).string();
    const std::vector<int64_t> index = used_frames(job, clip.length);
    if (index.empty())
      throw Error("video " + clip.name + " has " + std::to_string(clip.length) + " frames, none from offset " +
                  std::to_string(job.offset));
    job.frame_names.clear();
    for (int64_t i : index) job.frame_names.push_back(v.frame_names.at(static_cast<size_t>(i)));
    validate_file_animation(job);
    plan.jobs.push_back(std::move(job));
    plan.clips.push_back(c);
  }
  return plan;
}

AnimationInputs load_dataset_inputs(const DatasetJobs& plan, size_t i) {
  const FileAnimation& job = plan.jobs.at(i);
  const size_t c = plan.clips.at(i);
  const int64_t w = job.params.width, h = job.params.height;
  const data::Crop centre;  // {1, .5, .5}: the largest centred window of the output aspect
  AnimationInputs in;
  in.source = plan.dataset.load(c, {0}, w, h, centre).images[0].contiguous();
  in.control = plan.dataset.load(c, used_frames(job, plan.dataset.clip(c).length), w, h, centre).poses.contiguous();
  in.fps = 25.0;  // frame folders, as load_animation_inputs (job.fps overrides when writing)
  return in;
}

}  // namespace ma::app
