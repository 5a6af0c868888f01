// `magicanimate eval --pred PATH --gt PATH`: the paper's metrics between
// generated and ground-truth frames, computed as DisCo's evaluation code
// computes them (--protocol disco, the default) or with its bugs corrected
// (--protocol fixed). Results: a table, or one JSON object with --json;
// per-frame values optionally to a CSV file (written atomically).
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.h"
#include "cli/options.h"
#include "eval/evaluate.h"
#include "eval/prepare_gt.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace ma::app {
namespace {

// Full precision, so CSV/JSON values can be compared with Python's to 1e-9 and beyond.
std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void write_per_frame_csv(const std::string& path, const eval::EvalReport& r) {
  std::string text = "frame";
  for (const std::string& m : r.per_frame_metrics) text += "," + m;
  text += "\n";
  for (const eval::FrameScores& row : r.per_frame) {
    text += csv_field(row.name);
    for (const std::string& m : r.per_frame_metrics) text += "," + number(row.values.at(m));
    text += "\n";
  }
  write_file_atomically(path, text.data(), text.size());
}

void print_json(const eval::EvalReport& r) {
  nlohmann::ordered_json out = {{"protocol", eval::protocol_name(r.protocol)}, {"frames", r.frames},
                                {"videos", r.videos}};
  for (const auto& [m, v] : r.scores) out[m] = v;
  std::cout << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string display_name(const std::string& m) {
  if (m == "l1") return "L1";
  if (m == "psnr") return "PSNR";
  if (m == "ssim") return "SSIM";
  if (m == "lpips") return "LPIPS";
  if (m == "fid") return "FID";
  if (m == "fid-vid") return "FID-VID";
  if (m == "fvd") return "FVD";
  return m;
}

void print_table(const eval::EvalReport& r) {
  std::cout << "protocol  " << eval::protocol_name(r.protocol) << "\n";
  std::cout << "frames    " << r.frames << " in " << r.videos << (r.videos == 1 ? " video" : " videos") << "\n";
  for (const auto& [m, v] : r.scores) {
    std::ostringstream s;
    if (m == "l1") s << std::scientific << std::setprecision(3) << v;
    else if (m == "psnr" || m == "fid" || m == "fid-vid" || m == "fvd") s << std::fixed << std::setprecision(2) << v;
    else s << std::fixed << std::setprecision(4) << v;
    std::cout << std::left << std::setw(10) << display_name(m) << s.str() << "\n";
  }
}

}  // namespace

Action add_eval_command(CLI::App& app) {
  struct Options {
    std::string pred, gt, metrics, protocol = "disco", weights, mask, per_frame, prepare_gt, out;
    bool mask_union_first = false, skip_first = false;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "eval", "Compare generated frames with the ground truth: L1, PSNR, SSIM, LPIPS, FID, FID-VID, FVD as in "
              "DisCo's evaluation (the published TikTok numbers) or corrected (--protocol fixed)");
  sub->add_option("--pred", opt->pred, "Generated frames: a frame folder, a video file, or a folder of those");
  sub->add_option("--gt", opt->gt, "Ground truth in the same layout (frames pair by sorted name)");
  sub->add_option("--metrics", opt->metrics,
                  "Comma-separated: l1,psnr,ssim,lpips,fid,fid-vid,fvd (default: l1,psnr,ssim and every network "
                  "metric whose weights are in --weights)");
  sub->add_option("--protocol", opt->protocol,
                  "disco: DisCo's code as published (uint8 PSNR, LPIPS fed [0,1]); fixed: both corrected")
      ->check(CLI::IsMember({"disco", "fixed"}));
  sub->add_option("--weights", opt->weights, "Folder with the network metrics' weight files (see README)");
  sub->add_option("--mask", opt->mask, "Masks in the ground truth's layout (white = counted) for L1/PSNR/SSIM");
  sub->add_flag("--mask-union-first", opt->mask_union_first,
                "With --mask: count each frame's mask united with its video's first mask (the reference's person, "
                "when the first frame is the reference)");
  sub->add_flag("--skip-first", opt->skip_first,
                "Do not score each video's first frame (when it is the reference, the model's own input; its mask "
                "still counts for --mask-union-first)");
  sub->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  sub->add_option("--per-frame", opt->per_frame, "Also write each frame's values to this CSV file");
  sub->add_option("--prepare-gt", opt->prepare_gt,
                  "Instead of scoring: turn the TikTok dataset's <video>/images/*.png into DisCo's 256x256 "
                  "ground truth (centre square crop, bilinear) under --out");
  sub->add_option("--out", opt->out, "Output folder of --prepare-gt");
  return [opt]() -> int {
    if (!opt->prepare_gt.empty()) {
      if (opt->out.empty()) throw Error("--prepare-gt needs --out GT_DIR");
      const eval::PreparedSet done = eval::prepare_ground_truth(opt->prepare_gt, opt->out);
      std::cout << "wrote " << done.frames << " frames of " << done.videos << " videos to " << opt->out << "\n";
      return 0;
    }
    if (opt->pred.empty() || opt->gt.empty()) throw Error("eval needs --pred PATH and --gt PATH");
    eval::EvalOptions o;
    o.metrics = cli::split_list(opt->metrics);
    if (!opt->metrics.empty() && o.metrics.empty()) throw Error("--metrics lists no metric");
    o.protocol = opt->protocol == "fixed" ? eval::Protocol::Fixed : eval::Protocol::Disco;
    o.weights_dir = opt->weights;
    o.mask_path = opt->mask;
    o.mask_union_first = opt->mask_union_first;
    o.skip_first = opt->skip_first;
    if (o.mask_union_first && o.mask_path.empty()) throw Error("--mask-union-first needs --mask");
    const eval::EvalReport r = eval::evaluate(opt->pred, opt->gt, o);
    for (const std::string& line : r.refused) std::cerr << "magicanimate: error: " << line << "\n";
    if (r.scores.empty()) return 1;
    if (!opt->per_frame.empty()) write_per_frame_csv(opt->per_frame, r);
    if (opt->json) print_json(r);
    else print_table(r);
    return r.refused.empty() ? 0 : 1;
  };
}

}  // namespace ma::app
