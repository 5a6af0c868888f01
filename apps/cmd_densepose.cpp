// `magicanimate densepose --weights model_final_162be9.pkl --input my.mp4 --out motion.mp4`:
// the DensePose motion video MagicAnimate's `animate --motion` takes, made
// natively from detectron2's model-zoo weights (see pose/motion_video.h).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "cli/interrupt.h"
#include "models/densepose/config.h"
#include "pose/motion_video.h"
#include "util/error.h"
#include "util/threads.h"

namespace ma::app {
namespace {

struct DenseposeArgs {
  pose::MotionOptions motion;
  std::string cmap = "viridis";
  int threads = 0;
  bool no_crop = false, quiet = false;
};

int run_densepose(DenseposeArgs a) {
  const std::atomic<bool>* cancel = cli::install_interrupt_handlers();
  if (a.threads < 0) throw Error("--threads must be 0 (every core) or more, got " + std::to_string(a.threads));
  if (a.cmap != "viridis" && a.cmap != "parula") throw Error("--cmap must be viridis or parula, got '" + a.cmap + "'");
  a.motion.cmap = a.cmap == "parula" ? pose::Colormap::Parula : pose::Colormap::Viridis;
  a.motion.crop = !a.no_crop;
  const int threads = configure_threads(a.threads);
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  if (!a.quiet) std::cerr << "densepose: " << a.motion.weights << " on " << a.motion.input << " (" << threads << " threads)\n";
  const auto start = std::chrono::steady_clock::now();
  bool bar_open = false;
  auto progress = [&](int64_t done, int64_t total) {
    if (a.quiet) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : 0;
    char line[160];
    std::snprintf(line, sizeof line, "densepose: frame %lld/%lld  %.1f s/frame  eta %.0f s", static_cast<long long>(done),
                  static_cast<long long>(total), done > 0 ? elapsed / static_cast<double>(done) : 0.0, eta);
    if (tty) {
      std::cerr << "\r" << line << std::flush;
      bar_open = done < total;
      if (!bar_open) std::cerr << "\n";
    } else if (done == total || done % 10 == 0 || done == 1) {
      std::cerr << line << "\n";
    }
  };
  pose::MotionStats st;
  try {
    st = pose::make_motion_video(a.motion, progress, cancel);
  } catch (...) {
    if (bar_open) std::cerr << "\n";
    throw;
  }
  if (!a.quiet) {
    std::fprintf(stderr, "densepose: %lld frames (%lld at %.3g fps in), a person in %lld\n",
                 static_cast<long long>(st.frames), static_cast<long long>(st.input_frames), st.input_fps,
                 static_cast<long long>(st.frames_with_people));
    if (a.motion.smooth > 0)
      std::fprintf(stderr, "densepose: flicker %.2f%% of person pixels change label per frame (%.2f%% without --smooth)\n",
                   100 * st.flicker, 100 * st.flicker_raw);
    else
      std::fprintf(stderr, "densepose: flicker %.2f%% of person pixels change label per frame\n", 100 * st.flicker);
    std::cerr << "densepose: wrote " << a.motion.out << "\n";
  }
  return 0;
}

}  // namespace

Action add_densepose_command(CLI::App& app) {
  auto a = std::make_shared<DenseposeArgs>();
  CLI::App* sub = app.add_subcommand("densepose", "Make the DensePose motion video of a person's video (detectron2 weights)");
  sub->footer(R"(
  Runs DensePose R-CNN (detectron2's model zoo: model_final_162be9.pkl for R_50_FPN_s1x,
  model_final_0ed407.pkl R_50_FPN_DL_s1x, model_final_c6ab63.pkl R_101_FPN_s1x,
  model_final_844d15.pkl R_101_FPN_DL_s1x, from https://dl.fbaipublicfiles.com/densepose/)
  on every frame and paints the part labels as MagicAnimate's motion videos do: viridis on
  RGB(68,1,84), detections in descending score, centre-cropped to a square, --size pixels,
  --fps frames per second, H.264. Feed the result to `magicanimate animate --motion`.
  The output (and --frames-out) appear only once complete.)");
  sub->add_option("--weights", a->motion.weights, "detectron2 DensePose .pkl")->required();
  sub->add_option("--input", a->motion.input, "Video file or folder of frames")->required();
  sub->add_option("--out", a->motion.out, "Motion video to write (.mp4)")->required();
  sub->add_option("--config", a->motion.config, "Zoo config (default: recognised from the weights)")
      ->check(CLI::IsMember(densepose::zoo_config_names()));
  sub->add_option("--min-score", a->motion.min_score, "Drop detections scoring less (0.05 = vid2densepose)")
      ->capture_default_str();
  sub->add_option("--max-people", a->motion.max_people, "Keep the N best people per frame (0: all)")->capture_default_str();
  sub->add_option("--size", a->motion.size, "Output side in pixels (0: frame size, no crop)")->capture_default_str();
  sub->add_flag("--no-crop", a->no_crop, "Pad to a square with background instead of centre cropping");
  sub->add_option("--fps", a->motion.fps, "Output frame rate (0: the input's)")->capture_default_str();
  sub->add_option("--smooth", a->motion.smooth, "Vote each pixel's part label over +-N frames (less flicker)")
      ->capture_default_str();
  sub->add_option("--cmap", a->cmap, "viridis (MagicAnimate) or parula (detectron2 apply_net, CivitAI)")
      ->capture_default_str();
  sub->add_option("--frames-out", a->motion.frames_out, "Also write every frame as DIR/0000.png, ...");
  sub->add_option("--threads", a->threads, "CPU threads (0: every core)")->capture_default_str();
  sub->add_flag("--quiet", a->quiet, "No progress output");
  return [a] { return run_densepose(*a); };
}

}  // namespace ma::app
