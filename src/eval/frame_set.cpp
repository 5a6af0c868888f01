#include "eval/frame_set.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "media/image.h"
#include "media/video.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma::eval {
namespace {

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool is_frame_image(const fs::path& p) {
  static const char* const kExts[] = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"};
  const std::string ext = lower_extension(p);
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

bool is_video_name(const fs::path& p) {
  static const char* const kExts[] = {".mp4", ".webm", ".mkv", ".mov", ".avi", ".gif", ".m4v"};
  const std::string ext = lower_extension(p);
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

// Image frames directly in `dir`, sorted by file name (Python's sorted()).
std::vector<fs::path> frames_in(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && is_frame_image(it->path())) files.push_back(it->path());
  if (ec) throw Error("cannot list '" + dir.string() + "': " + ec.message());
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return files;
}

VideoEntry folder_video(const std::string& name, const fs::path& dir, const std::string& role) {
  VideoEntry v;
  v.name = name;
  v.path = dir.string();
  for (const fs::path& f : frames_in(dir)) {
    v.frame_files.push_back(f.string());
    std::string stem = f.stem().string();
    if (!v.frame_names.empty() && v.frame_names.back() == stem)
      throw Error(role + " '" + dir.string() + "': two frames are named '" + stem + "' (different extensions)");
    v.frame_names.push_back(stem);
  }
  return v;
}

VideoEntry file_video(const std::string& name, const fs::path& file) {
  VideoEntry v;
  v.name = name;
  v.path = file.string();
  v.is_file = true;
  return v;
}

std::string label(const VideoEntry& v) { return v.name.empty() ? v.path : v.name; }

}  // namespace

FrameSet list_frame_set(const std::string& path, const std::string& role) {
  FrameSet set;
  set.path = path;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw Error(role + " '" + path + "' does not exist");
  if (fs::is_regular_file(st)) {
    if (is_frame_image(path)) throw Error(role + " '" + path + "' is a single image; give its folder");
    set.videos.push_back(file_video("", path));
    return set;
  }
  if (!fs::is_directory(st)) throw Error(role + " '" + path + "' is neither a folder nor a video file");
  VideoEntry top = folder_video("", path, role);
  if (!top.frame_files.empty()) {
    set.videos.push_back(std::move(top));
    return set;
  }
  std::map<std::string, VideoEntry> videos;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path p = it->path();
    std::error_code ec2;
    std::string name;
    VideoEntry v;
    if (it->is_directory(ec2)) {
      v = folder_video(p.filename().string(), p, role);
      if (v.frame_files.empty()) continue;
    } else if (it->is_regular_file(ec2) && is_video_name(p)) {
      v = file_video(p.stem().string(), p);
    } else {
      continue;
    }
    const std::string key = v.name;
    if (!videos.emplace(key, std::move(v)).second)
      throw Error(role + " '" + path + "': two videos are named '" + key + "'");
  }
  if (ec) throw Error("cannot list '" + path + "': " + ec.message());
  if (videos.empty())
    throw Error(role + " '" + path + "' holds no image frames, video files or frame folders");
  for (auto& [name, v] : videos) set.videos.push_back(std::move(v));
  return set;
}

namespace {

const VideoEntry* find_video(const FrameSet& set, const std::string& name) {
  for (const VideoEntry& v : set.videos)
    if (v.name == name) return &v;
  return nullptr;
}

void check_frame_names(const VideoEntry& a, const std::string& a_role, const VideoEntry& b, const std::string& b_role) {
  if (a.is_file || b.is_file) return;  // paired by position once decoded
  const std::string where = a.name.empty() ? "" : " in video '" + a.name + "'";
  const size_t n = std::min(a.frame_names.size(), b.frame_names.size());
  for (size_t i = 0; i < n; ++i)
    if (a.frame_names[i] != b.frame_names[i])
      throw Error("frames do not pair up" + where + ": " + a_role + " '" + a.frame_names[i] + "' vs " + b_role +
                  " '" + b.frame_names[i] + "' (pair " + std::to_string(i + 1) + " in sorted order)");
  if (a.frame_names.size() != b.frame_names.size()) {
    const bool a_longer = a.frame_names.size() > b.frame_names.size();
    throw Error("frame counts differ" + where + ": " + a_role + " has " + std::to_string(a.frame_names.size()) +
                ", " + b_role + " has " + std::to_string(b.frame_names.size()) + "; first without a partner: " +
                (a_longer ? a_role : b_role) + " '" + (a_longer ? a.frame_names : b.frame_names)[n] + "'");
  }
}

}  // namespace

std::vector<VideoPair> pair_frame_sets(const FrameSet& pred, const FrameSet& gt, const FrameSet* mask) {
  std::vector<VideoPair> pairs;
  // A PATH that is one video pairs with the other side's only video, whatever its name.
  if (pred.videos.size() == 1 && gt.videos.size() == 1 && (pred.videos[0].name.empty() || gt.videos[0].name.empty())) {
    pairs.push_back({&pred.videos[0], &gt.videos[0], nullptr});
  } else {
    for (const VideoEntry& g : gt.videos) {
      const VideoEntry* p = find_video(pred, g.name);
      if (!p) throw Error("--pred has no video '" + g.name + "' (the ground truth's first video without a match)");
      pairs.push_back({p, &g, nullptr});
    }
    for (const VideoEntry& p : pred.videos)
      if (!find_video(gt, p.name))
        throw Error("--gt has no video '" + p.name + "' (the prediction's first video without a match)");
  }
  for (VideoPair& pair : pairs) {
    check_frame_names(*pair.pred, "--pred", *pair.gt, "--gt");
    if (!mask) continue;
    pair.mask = mask->videos.size() == 1 && mask->videos[0].name.empty() && pairs.size() == 1
                    ? &mask->videos[0]
                    : find_video(*mask, pair.gt->name);
    if (!pair.mask) throw Error("--mask has no video '" + label(*pair.gt) + "'");
    check_frame_names(*pair.mask, "--mask", *pair.gt, "--gt");
  }
  return pairs;
}

FrameReader::FrameReader(const VideoEntry& video) : video_(video) {}

int64_t FrameReader::size() {
  if (!video_.is_file) return static_cast<int64_t>(video_.frame_files.size());
  if (!decoded_.defined()) decoded_ = read_video(video_.path).frames;
  return decoded_.size(0);
}

at::Tensor FrameReader::frame(int64_t i) {
  if (!video_.is_file) return read_image_rgb(video_.frame_files.at(static_cast<size_t>(i)));
  size();
  return decoded_[i];
}

std::string FrameReader::frame_name(int64_t i) {
  std::string frame;
  if (video_.is_file) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(i));
    frame = buf;
  } else {
    frame = video_.frame_names.at(static_cast<size_t>(i));
  }
  return video_.name.empty() ? frame : video_.name + "/" + frame;
}

}  // namespace ma::eval
