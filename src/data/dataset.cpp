#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "media/image.h"
#include "media/video.h"
#include "util/error.h"

namespace ma::data {
namespace {

namespace fs = std::filesystem;

// The frame files read_video takes from a folder (the same list it uses).
bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> kExt{".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"};
  return kExt.count(ext) > 0;
}

std::set<std::string> image_names(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && is_image_name(e.path())) names.insert(e.path().filename().string());
  if (ec) throw Error("cannot list " + dir.string() + ": " + ec.message());
  return names;
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::vector<fs::path> sorted_entries(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string()[0] != '.') out.push_back(e.path());
  if (ec) throw Error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// Decodes a whole frame source once (folders in chunks, so a long folder never
// sits in memory at once) and returns {frames, width, height}.
struct Probe {
  int64_t length = 0, width = 0, height = 0;
};

Probe probe(const std::string& path) {
  constexpr int64_t kChunk = 32;
  Probe p;
  if (!is_dir(path)) {
    at::Tensor f = read_video(path).frames;
    return {f.size(0), f.size(2), f.size(1)};
  }
  const int64_t listed = static_cast<int64_t>(image_names(path).size());
  if (listed == 0) throw Error(path + ": no frames");
  for (int64_t offset = 0; offset < listed; offset += kChunk) {
    at::Tensor f = read_video(path, kChunk, offset).frames;
    if (offset == 0) p.width = f.size(2), p.height = f.size(1);
    p.length += f.size(0);
  }
  return p;
}

std::string size_str(const Probe& p) { return std::to_string(p.width) + "x" + std::to_string(p.height); }

// Checks one clip fully; throws ma::Error naming what is wrong.
Clip check_clip(const std::string& name, const fs::path& frames, const fs::path& poses, bool folder_layout) {
  if (!fs::exists(poses)) throw Error("clip " + name + ": no pose video " + poses.string());
  if (folder_layout) {
    const auto a = image_names(frames), b = image_names(poses);
    if (a.empty()) throw Error("clip " + name + ": no frames in " + frames.string());
    if (a != b) {
      std::vector<std::string> only;
      std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only));
      throw Error("clip " + name + ": " + std::to_string(a.size()) + " frames in " + frames.string() + " but " +
                  std::to_string(b.size()) + " in " + poses.string() + " (first unmatched: " + only.front() + ")");
    }
  }
  const Probe f = probe(frames.string()), p = probe(poses.string());
  if (f.length != p.length)
    throw Error("clip " + name + ": " + std::to_string(f.length) + " frames in " + frames.string() + " but " +
                std::to_string(p.length) + " in " + poses.string());
  if (f.width != p.width || f.height != p.height)
    throw Error("clip " + name + ": frames are " + size_str(f) + " but poses " + size_str(p) +
                " (they share one crop, so they must be the same size)");
  return {name, frames.string(), poses.string(), f.length, f.width, f.height};
}

// The pose partner of videos/<name>: the same name, else the same stem.
fs::path pose_partner(const fs::path& pose_dir, const fs::path& video) {
  const fs::path same = pose_dir / video.filename();
  if (fs::exists(same)) return same;
  for (const auto& e : sorted_entries(pose_dir))
    if (e.stem() == video.stem()) return e;
  return same;
}

}  // namespace

Dataset Dataset::scan(const std::string& root_dir, const ScanOptions& options) {
  const fs::path root(root_dir);
  if (!is_dir(root)) throw Error("dataset " + root_dir + ": not a folder");
  struct Candidate {
    std::string name;
    fs::path frames, poses;
    bool folder_layout;
  };
  std::vector<Candidate> candidates;
  auto wanted = [&](const fs::path& p) {
    const auto& only = options.only;
    return only.empty() || std::find(only.begin(), only.end(), p.filename().string()) != only.end();
  };
  if (is_dir(root / "videos")) {
    if (!is_dir(root / "densepose")) throw Error("dataset " + root_dir + ": videos/ has no densepose/ beside it");
    for (const auto& v : sorted_entries(root / "videos"))
      if (wanted(v)) candidates.push_back({v.filename().string(), v, pose_partner(root / "densepose", v), false});
  } else {
    for (const auto& d : sorted_entries(root)) {
      if (!is_dir(d) || !wanted(d)) continue;
      if (!is_dir(d / "images")) {
        if (options.skip_bad) {
          if (options.warn) options.warn("skipping clip " + d.filename().string() + ": no images/ folder");
          continue;
        }
        throw Error("clip " + d.filename().string() + ": no images/ folder in " + d.string());
      }
      candidates.push_back({d.filename().string(), d / "images", d / "densepose", true});
    }
  }
  Dataset ds;
  for (const Candidate& c : candidates) {
    try {
      ds.clips_.push_back(check_clip(c.name, c.frames, c.poses, c.folder_layout));
    } catch (const Error& e) {
      if (!options.skip_bad) throw;
      if (options.warn) options.warn(std::string("skipping ") + e.what());
    }
  }
  if (ds.clips_.empty())
    throw Error("dataset " + root_dir +
                ": no usable clips (expected <video>/images + <video>/densepose folders, or videos/ + densepose/)");
  return ds;
}

at::Tensor crop_and_resize(const at::Tensor& rgb, int64_t width, int64_t height, const Crop& crop) {
  const int64_t H = rgb.size(0), W = rgb.size(1);
  // The largest window of the output aspect inside the frame, then scaled.
  double cw = W, ch = static_cast<double>(W) * height / width;
  if (ch > H) ch = H, cw = static_cast<double>(H) * width / height;
  const double s = std::clamp(crop.scale, 1e-3, 1.0);
  const int64_t w = std::max<int64_t>(1, std::llround(cw * s)), h = std::max<int64_t>(1, std::llround(ch * s));
  const int64_t x0 = std::llround(std::clamp(crop.x, 0.0, 1.0) * static_cast<double>(W - w));
  const int64_t y0 = std::llround(std::clamp(crop.y, 0.0, 1.0) * static_cast<double>(H - h));
  at::Tensor window = rgb.slice(0, y0, y0 + h).slice(1, x0, x0 + w).contiguous();
  if (w == width && h == height) return window;
  return resize_like_pillow(window, width, height);
}

Dataset::Frames Dataset::load(size_t c, const std::vector<int64_t>& index, int64_t width, int64_t height,
                              const Crop& crop) const {
  const Clip& clip = clips_.at(c);
  // Consecutive indices are read in one call (a video file decodes from its start each call).
  auto read = [&](const std::string& path) {
    std::vector<at::Tensor> out;
    for (size_t i = 0; i < index.size();) {
      size_t j = i + 1;
      while (j < index.size() && index[j] == index[j - 1] + 1) ++j;
      at::Tensor run = read_video(path, static_cast<int64_t>(j - i), index[i]).frames;
      if (run.size(0) != static_cast<int64_t>(j - i))
        throw Error("clip " + clip.name + ": " + path + " changed since the scan (frame " +
                    std::to_string(index[i]) + ")");
      for (int64_t k = 0; k < run.size(0); ++k) out.push_back(crop_and_resize(run[k], width, height, crop));
      i = j;
    }
    return at::stack(out);
  };
  return {read(clip.frames), read(clip.poses)};
}

}  // namespace ma::data
