// `magicanimate eval` without the printing: pairs the frame sets, runs the
// requested metrics and returns their means (plain means over all frames
// of all videos, as DisCo) and the per-frame values.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "eval/pixel_metrics.h"

namespace ma::eval {

// Metric names in the order they are reported.
const std::vector<std::string>& known_metrics();

struct EvalOptions {
  std::vector<std::string> metrics;  // empty: the pixel metrics plus each network metric found in weights_dir
  Protocol protocol = Protocol::Disco;
  std::string weights_dir;
  std::string mask_path;  // same layout as the ground truth; white = counted
  // Each frame's mask united with its video's first mask: with the first frame
  // as the reference, the region covers where the person is and where a copied
  // (or misplaced) reference person would be.
  bool mask_union_first = false;
  // The first frame of each video is not scored (every metric): with the first
  // frame as the reference it is the model's input, and a method that repeats
  // it would score a perfect frame. Its mask still joins --mask-union-first.
  bool skip_first = false;
};

struct FrameScores {
  std::string name;
  std::map<std::string, double> values;
};

struct EvalReport {
  Protocol protocol = Protocol::Disco;
  int64_t frames = 0, videos = 0;
  std::vector<std::pair<std::string, double>> scores;  // in known_metrics() order
  std::vector<std::string> per_frame_metrics;          // columns of per_frame
  std::vector<FrameScores> per_frame;
  std::vector<std::string> refused;  // one line per requested metric that could not run
};

// Which weight files a network metric reads from --weights (empty for pixel metrics).
std::vector<std::string> weight_files_of(const std::string& metric);

// Runs everything runnable; metrics whose weights are missing are listed in
// `refused` while the others still run. Bad input: ma::Error, one line.
EvalReport evaluate(const std::string& pred_path, const std::string& gt_path, const EvalOptions& options);

const char* protocol_name(Protocol p);

}  // namespace ma::eval
