#include "cli/reporter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>


namespace ma::cli {
namespace {

// {"event":"progress","phase":...,"step":...,"steps":...,"window":...,
//  "windows":...,"elapsed_s":...,"eta_s":...} (eta_s null while unknown).
nlohmann::json progress_event_json(const ProgressEvent& e) {
  nlohmann::json j = {{"event", "progress"}, {"phase", e.phase},     {"step", e.step},          {"steps", e.steps},
                      {"window", e.window},  {"windows", e.windows}, {"elapsed_s", e.elapsed_s}};
  j["eta_s"] = e.eta_s >= 0 ? nlohmann::json(e.eta_s) : nlohmann::json(nullptr);
  return j;
}

std::string job_prefix(int64_t job, int64_t jobs) {
  return jobs > 1 ? "[" + std::to_string(job) + "/" + std::to_string(jobs) + "] " : "";
}

std::string phase_text(const std::string& phase) {
  if (phase == "encode") return "encoding the reference image";
  if (phase == "decode") return "decoding the latents to frames";
  if (phase == "done") return "animation done";
  return phase;
}

// Fraction of the denoising loop finished, counting windows within a step.
double denoise_fraction(const ProgressEvent& e) {
  if (e.steps <= 0) return 0;
  double within = e.windows > 0 ? double(e.window) / double(e.windows) : 1.0;
  double done = (std::max<int64_t>(e.step, 1) - 1 + within) / double(e.steps);
  return std::min(std::max(done, 0.0), 1.0);
}

std::string bar(double fraction, int width) {
  int filled = static_cast<int>(std::lround(fraction * width));
  return "|" + std::string(filled, '#') + std::string(width - filled, '.') + "|";
}

}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "--:--";
  long total = std::lround(seconds);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, (total / 60) % 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%02ld:%02ld", total / 60, total % 60);
  return text;
}

Reporter::Reporter(LogMode mode, bool stderr_is_tty) : mode_(mode), tty_(stderr_is_tty) {}

Reporter::~Reporter() { end_progress(); }

void Reporter::info(const std::string& text) {
  if (mode_ == LogMode::json) {
    json({{"event", "info"}, {"message", text}});
  } else if (mode_ == LogMode::normal) {
    end_progress();
    std::cerr << text << "\n" << std::flush;
  }
}

void Reporter::json(const nlohmann::json& event) {
  if (mode_ != LogMode::json) return;
  std::cout << event.dump() << "\n" << std::flush;
}

void Reporter::end_progress() {
  if (!bar_open_) return;
  std::cerr << "\n" << std::flush;
  bar_open_ = false;
}

ProgressCallback Reporter::progress(int64_t job, int64_t jobs) {
  last_phase_.clear();
  last_step_ = -1;
  return [this, job, jobs](const ProgressEvent& e) { on_progress(e, job, jobs); };
}

void Reporter::on_progress(const ProgressEvent& e, int64_t job, int64_t jobs) {
  if (mode_ == LogMode::quiet) return;
  if (mode_ == LogMode::json) {
    nlohmann::json j = progress_event_json(e);
    if (jobs > 1) {
      j["job"] = job;
      j["jobs"] = jobs;
    }
    json(j);
    return;
  }
  const std::string prefix = job_prefix(job, jobs);
  const bool new_phase = e.phase != last_phase_;
  last_phase_ = e.phase;
  if (e.phase == "denoise") {
    char counts[96];
    std::snprintf(counts, sizeof counts, "step %lld/%lld %s window %lld/%lld", static_cast<long long>(e.step),
                  static_cast<long long>(e.steps), bar(denoise_fraction(e), 24).c_str(),
                  static_cast<long long>(e.window), static_cast<long long>(e.windows));
    std::string line =
        prefix + counts + "  " + format_duration(e.elapsed_s) + " elapsed, ETA " + format_duration(e.eta_s);
    if (tty_) {
      std::cerr << "\r" << line << "\x1b[K" << std::flush;  // redraw in place
      bar_open_ = true;
    } else if (e.window >= e.windows && e.step != last_step_) {
      std::cerr << line << "\n" << std::flush;  // one line per finished step
      last_step_ = e.step;
    }
    return;
  }
  if (!new_phase) return;
  end_progress();
  std::string line = prefix + phase_text(e.phase);
  if (e.phase == "done") line += " in " + format_duration(e.elapsed_s);
  std::cerr << line << "\n" << std::flush;
}

}  // namespace ma::cli
