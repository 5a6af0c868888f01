#include "eval/evaluate.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "eval/fid_inception.h"
#include "eval/frame_set.h"
#include "eval/frechet.h"
#include "eval/lpips.h"
#include "eval/video_features.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma::eval {

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names = {"l1", "psnr", "ssim", "lpips", "fid", "fid-vid", "fvd"};
  return names;
}

const char* protocol_name(Protocol p) { return p == Protocol::Disco ? "disco" : "fixed"; }

std::vector<std::string> weight_files_of(const std::string& metric) {
  if (metric == "lpips") return {"vgg16-397923af.pth", "vgg.pth"};
  if (metric == "fid") return {"pt_inception-2015-12-05-6726825d.pth"};
  if (metric == "fid-vid") return {"resnet-50-kinetics.pth"};
  if (metric == "fvd") return {"i3d_pretrained_400.pt"};
  return {};
}

namespace {

bool is_pixel_metric(const std::string& m) { return m == "l1" || m == "psnr" || m == "ssim"; }

// The per-frame metrics in report order.
bool is_frame_metric(const std::string& m) { return is_pixel_metric(m) || m == "lpips"; }

std::string weight_path(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

// The first weight file of `metric` missing from the folder, or "" when all are there.
std::string missing_weight(const std::string& metric, const std::string& dir) {
  for (const std::string& f : weight_files_of(metric)) {
    const std::string path = (fs::path(dir) / f).string();
    std::error_code ec;
    if (dir.empty() || !fs::is_regular_file(path, ec)) return path;
  }
  return "";
}

// Decides what runs: explicit requests are checked, the default takes the
// pixel metrics and each network metric whose weights are present.
std::vector<std::string> select_metrics(const EvalOptions& o, std::vector<std::string>& refused) {
  std::vector<std::string> run;
  const bool by_default = o.metrics.empty();
  for (const std::string& m : known_metrics()) {
    const bool wanted = by_default || std::find(o.metrics.begin(), o.metrics.end(), m) != o.metrics.end();
    if (!wanted) continue;
    if (is_pixel_metric(m)) {
      run.push_back(m);
      continue;
    }
    const std::string missing = missing_weight(m, o.weights_dir);
    if (by_default) {
      if (missing.empty()) run.push_back(m);
      continue;
    }
    if (o.weights_dir.empty()) {
      refused.push_back("metric '" + m + "' needs --weights DIR holding " + weight_files_of(m).front() +
                        " (see README, Evaluation)");
    } else if (!missing.empty()) {
      refused.push_back("metric '" + m + "' needs weight file '" + missing + "', which is missing (see README, Evaluation)");
    } else {
      run.push_back(m);
    }
  }
  return run;
}

bool has(const std::vector<std::string>& v, const std::string& m) { return std::find(v.begin(), v.end(), m) != v.end(); }

// White = counted: a mask pixel counts when its mean over R, G, B is at least 128.
at::Tensor mask_of(const at::Tensor& rgb) { return rgb.to(at::kInt).sum(2).ge(3 * 128); }

std::string size_text(const at::Tensor& frame) {
  return std::to_string(frame.size(1)) + "x" + std::to_string(frame.size(0));
}

// FID-VID / FVD: a side of frame folders with too few windows fails before
// any frame is decoded (video files are only counted once decoded).
void check_windows(const std::vector<VideoPair>& pairs, const std::vector<std::string>& run) {
  const std::string metric = has(run, "fid-vid") ? "FID-VID" : has(run, "fvd") ? "FVD" : "";
  if (metric.empty()) return;
  int64_t pred = 0, gt = 0;
  for (const VideoPair& pair : pairs) {
    if (pair.pred->is_file || pair.gt->is_file) return;
    pred += static_cast<int64_t>(video_windows(pair.pred->frame_names, 0).size());
    gt += static_cast<int64_t>(video_windows(pair.gt->frame_names, 0).size());
  }
  require_windows(pred, metric, "--pred");
  require_windows(gt, metric, "--gt");
}

}  // namespace

EvalReport evaluate(const std::string& pred_path, const std::string& gt_path, const EvalOptions& options) {
  for (const std::string& m : options.metrics)
    if (!has(known_metrics(), m))
      throw Error("unknown metric '" + m + "' (known: l1, psnr, ssim, lpips, fid, fid-vid, fvd)");
  EvalReport report;
  report.protocol = options.protocol;
  const std::vector<std::string> run = select_metrics(options, report.refused);
  if (run.empty()) return report;

  const FrameSet pred = list_frame_set(pred_path, "--pred");
  const FrameSet gt = list_frame_set(gt_path, "--gt");
  FrameSet mask;
  if (!options.mask_path.empty()) mask = list_frame_set(options.mask_path, "--mask");
  const std::vector<VideoPair> pairs = pair_frame_sets(pred, gt, options.mask_path.empty() ? nullptr : &mask);
  check_windows(pairs, run);

  for (const std::string& m : run)
    if (is_frame_metric(m)) report.per_frame_metrics.push_back(m);
  std::unique_ptr<LpipsVgg> lpips;
  if (has(run, "lpips"))
    lpips = std::make_unique<LpipsVgg>(LpipsVgg::load(weight_path(options.weights_dir, weight_files_of("lpips")[0]),
                                                      weight_path(options.weights_dir, weight_files_of("lpips")[1])));
  // FID pools the features of all frames of each side (pytorch-fid over two folders).
  std::unique_ptr<FidInception> inception;
  if (has(run, "fid"))
    inception = std::make_unique<FidInception>(FidInception::load(weight_path(options.weights_dir, weight_files_of("fid")[0])));
  // FID-VID and FVD: windows of each video of each side (DisCo's frame-folder protocol).
  std::unique_ptr<Resnet3d> resnet3d;
  if (has(run, "fid-vid")) resnet3d = Resnet3d::load(weight_path(options.weights_dir, weight_files_of("fid-vid")[0]));
  std::unique_ptr<InceptionI3d> i3d;
  if (has(run, "fvd")) i3d = InceptionI3d::load(weight_path(options.weights_dir, weight_files_of("fvd")[0]));
  const bool video_metrics = resnet3d || i3d;
  VideoFeatures pred_videos(resnet3d.get(), i3d.get()), gt_videos(resnet3d.get(), i3d.get());
  std::vector<at::Tensor> pred_features, gt_features, pred_batch, gt_batch;
  auto flush_fid = [&]() {
    if (!inception || gt_batch.empty()) return;
    pred_features.push_back(inception->frame_features(pred_batch));
    gt_features.push_back(inception->frame_features(gt_batch));
    pred_batch.clear();
    gt_batch.clear();
  };
  std::map<std::string, double> sums;
  for (const VideoPair& pair : pairs) {
    FrameReader p(*pair.pred), g(*pair.gt);
    std::unique_ptr<FrameReader> mk;
    if (pair.mask) mk = std::make_unique<FrameReader>(*pair.mask);
    const int64_t n = g.size();
    if (p.size() != n)
      throw Error("frame counts differ for '" + (pair.gt->name.empty() ? pair.gt->path : pair.gt->name) +
                  "': --pred has " + std::to_string(p.size()) + ", --gt has " + std::to_string(n));
    if (mk && mk->size() != n)
      throw Error("--mask has " + std::to_string(mk->size()) + " frames where --gt has " + std::to_string(n));
    at::Tensor first_region;  // --mask-union-first
    if (mk && options.mask_union_first && n > 0) first_region = mask_of(mk->frame(0));
    std::vector<at::Tensor> pred_video, gt_video;  // video metrics: each frame at its own size
    for (int64_t i = options.skip_first ? 1 : 0; i < n; ++i) {
      const at::Tensor gt_frame = g.frame(i);
      at::Tensor pred_frame = p.frame(i);
      if (video_metrics) {
        pred_video.push_back(pred_frame);
        gt_video.push_back(gt_frame);
      }
      if (inception) {
        // As pytorch-fid reads the files: the prediction at its own size (resized to 299 inside).
        pred_batch.push_back(pred_frame);
        gt_batch.push_back(gt_frame);
        if (gt_batch.size() == 16) flush_fid();
      }
      // DisCo: "Resize images to the same dimensions, if needed" (cv2.resize of the prediction).
      if (pred_frame.sizes() != gt_frame.sizes())
        pred_frame = resize_like_opencv(pred_frame, gt_frame.size(1), gt_frame.size(0));
      at::Tensor region;
      if (mk) {
        const at::Tensor m = mk->frame(i);
        if (m.sizes() != gt_frame.sizes())
          throw Error("--mask frame '" + mk->frame_name(i) + "' is " + size_text(m) + " but its ground truth is " +
                      size_text(gt_frame));
        region = mask_of(m);
        if (first_region.defined()) {
          if (first_region.sizes() != region.sizes())
            throw Error("--mask frames of '" + mk->frame_name(0) + "' and '" + mk->frame_name(i) + "' differ in size");
          region = region.logical_or(first_region);
        }
      }
      FrameScores row;
      row.name = g.frame_name(i);
      try {
        if (has(run, "l1")) row.values["l1"] = l1_disco(pred_frame, gt_frame, region);
        if (has(run, "psnr")) row.values["psnr"] = psnr(pred_frame, gt_frame, options.protocol, region);
        if (has(run, "ssim")) row.values["ssim"] = ssim(pred_frame, gt_frame, region);
        if (lpips) row.values["lpips"] = lpips->distance(pred_frame, gt_frame, options.protocol);
      } catch (const Error& e) {
        throw Error("frame '" + row.name + "': " + e.what());
      }
      for (const auto& [k, v] : row.values) sums[k] += v;
      report.per_frame.push_back(std::move(row));
    }
    if (video_metrics) {
      // The names of the frames scored (video files have none: they pair by position).
      auto scored_names = [&](const std::vector<std::string>& names) {
        const size_t skip = options.skip_first && !names.empty() ? 1 : 0;
        return std::vector<std::string>(names.begin() + static_cast<std::ptrdiff_t>(skip), names.end());
      };
      pred_videos.add_video(pred_video, scored_names(pair.pred->frame_names));
      gt_videos.add_video(gt_video, scored_names(pair.gt->frame_names));
    }
    ++report.videos;
  }
  if (report.per_frame.empty() && options.skip_first)
    throw Error("--skip-first leaves no frame to score: every video has only its first frame");
  flush_fid();
  report.frames = static_cast<int64_t>(report.per_frame.size());
  for (const std::string& m : run) {
    if (sums.count(m)) report.scores.emplace_back(m, sums[m] / static_cast<double>(report.frames));
    if (m == "fid")
      report.scores.emplace_back(m, frechet_distance(fit_gaussian(at::cat(pred_features)), fit_gaussian(at::cat(gt_features))));
    // --pred before --gt (argument order is unspecified): a too-short input is named the same way every time.
    if (m == "fid-vid") {
      const Gaussian p = fit_gaussian(pred_videos.resnet_features("--pred"));
      report.scores.emplace_back(m, frechet_distance(p, fit_gaussian(gt_videos.resnet_features("--gt"))));
    }
    if (m == "fvd") {
      const Gaussian p = fit_gaussian(pred_videos.i3d_features("--pred"));
      report.scores.emplace_back(m, frechet_distance(p, fit_gaussian(gt_videos.i3d_features("--gt"))));
    }
  }
  return report;
}

}  // namespace ma::eval
