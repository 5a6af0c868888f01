#include "eval/video_features.h"

#include <cctype>
#include <map>

#include "eval/pil_float_resize.h"
#include "util/error.h"

namespace ma::eval {
namespace {

// Windows go through the networks this many at a time (memory, not results).
constexpr int64_t kBatch = 4;

// DisCo's frame regexes split a name as (prefix)(digits)(non-digits.ext);
// here the stem: the last run of digits and what surrounds it.
struct NumberedName {
  std::string prefix, digits, suffix;
};

bool split_number(const std::string& stem, NumberedName& out) {
  size_t end = stem.size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>(stem[end - 1]))) --end;
  if (end == 0) return false;
  size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(stem[begin - 1]))) --begin;
  out = {stem.substr(0, begin), stem.substr(begin, end - begin), stem.substr(end)};
  return out.digits.size() <= 18;
}

// str(index).zfill(width).
std::string zfill(int64_t index, size_t width) {
  std::string s = std::to_string(index);
  return s.size() < width ? std::string(width - s.size(), '0') + s : s;
}

at::Tensor resized_stack(const std::vector<at::Tensor>& rgb8, int64_t size) {
  std::vector<at::Tensor> frames;
  frames.reserve(rgb8.size());
  for (const at::Tensor& f : rgb8) frames.push_back(resize_float_like_pil(f.to(at::kFloat), size, size));
  return at::stack(frames).permute({3, 0, 1, 2});  // [T, S, S, 3] -> [3, T, S, S]
}

// Runs `net` over the windows of `frames` [3, T, S, S] in batches.
template <class Net>
at::Tensor run_windows(const Net& net, const at::Tensor& frames, const std::vector<std::vector<int64_t>>& windows) {
  std::vector<at::Tensor> out;
  for (size_t w = 0; w < windows.size(); w += kBatch) {
    std::vector<at::Tensor> batch;
    for (size_t i = w; i < std::min(windows.size(), w + kBatch); ++i)
      batch.push_back(frames.index_select(1, at::tensor(windows[i], at::kLong)));
    out.push_back(net.forward(at::stack(batch)));
  }
  return at::cat(out);
}

at::Tensor features_of(const std::vector<at::Tensor>& parts, const std::string& metric, const std::string& role) {
  int64_t n = 0;
  for (const at::Tensor& p : parts) n += p.size(0);
  require_windows(n, metric, role);
  return at::cat(parts);
}

}  // namespace

void require_windows(int64_t n, const std::string& metric, const std::string& role) {
  if (n < 2)
    throw Error(metric + " needs at least 2 windows of 16 consecutive frames in " + role + ", found " +
                std::to_string(n));
}

std::vector<std::vector<int64_t>> video_windows(const std::vector<std::string>& names, int64_t count) {
  std::vector<std::vector<int64_t>> windows;
  if (names.empty()) {
    for (int64_t s = 0; s + kVideoWindow <= count; ++s) {
      windows.emplace_back();
      for (int64_t i = 0; i < kVideoWindow; ++i) windows.back().push_back(s + i);
    }
    return windows;
  }
  std::map<std::string, int64_t> position;
  for (size_t i = 0; i < names.size(); ++i) position.emplace(names[i], static_cast<int64_t>(i));
  for (size_t s = 0; s < names.size(); ++s) {
    NumberedName n;
    if (!split_number(names[s], n)) continue;  // DisCo: "does not match any format", skipped
    const int64_t first = std::stoll(n.digits);
    std::vector<int64_t> w = {static_cast<int64_t>(s)};
    for (int64_t i = 1; i < kVideoWindow; ++i) {
      auto it = position.find(n.prefix + zfill(first + i, n.digits.size()) + n.suffix);
      if (it == position.end()) break;
      w.push_back(it->second);
    }
    if (static_cast<int64_t>(w.size()) == kVideoWindow) windows.push_back(std::move(w));
  }
  return windows;
}

at::Tensor resnet3d_frames(const std::vector<at::Tensor>& rgb8) {
  // DisCo: float32 video minus a float64 mean tensor (computed in float64), then .float().
  const at::Tensor mean = at::tensor({114.7748, 107.7354, 99.4750}, at::kDouble).view({3, 1, 1, 1});
  return (resized_stack(rgb8, Resnet3d::kSize).to(at::kDouble) - mean).to(at::kFloat).contiguous();
}

at::Tensor i3d_frames(const std::vector<at::Tensor>& rgb8) {
  return (resized_stack(rgb8, 224) / 127.5 - 1).contiguous();
}

void VideoFeatures::add_video(const std::vector<at::Tensor>& rgb8, const std::vector<std::string>& names) {
  const auto windows = video_windows(names, static_cast<int64_t>(rgb8.size()));
  if (windows.empty()) return;
  windows_ += static_cast<int64_t>(windows.size());
  if (resnet_) resnet_out_.push_back(run_windows(*resnet_, resnet3d_frames(rgb8), windows));
  if (i3d_) i3d_out_.push_back(run_windows(*i3d_, i3d_frames(rgb8), windows));
}

at::Tensor VideoFeatures::resnet_features(const std::string& role) const {
  return features_of(resnet_out_, "FID-VID", role);
}

at::Tensor VideoFeatures::i3d_features(const std::string& role) const { return features_of(i3d_out_, "FVD", role); }

}  // namespace ma::eval
