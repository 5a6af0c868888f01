// What the command-line programs tell the user while they work: info lines and
// a progress bar on stderr, plain lines when stderr is not a terminal, one JSON
// object per line on stdout with --log-json, or nothing with --quiet.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/animation.h"

namespace ma::cli {

enum class LogMode { normal, quiet, json };

class Reporter {
 public:
  Reporter(LogMode mode, bool stderr_is_tty);
  ~Reporter();

  LogMode mode() const { return mode_; }

  // normal: one line on stderr; json: {"event":"info","message":...}.
  void info(const std::string& text);

  // json mode: `event` as one line on stdout; otherwise nothing.
  void json(const nlohmann::json& event);

  // Progress of job `job` (1-based) of `jobs`, for Animator::animate.
  ProgressCallback progress(int64_t job, int64_t jobs);

  // Ends an open progress bar line (before other output, errors included).
  void end_progress();

 private:
  void on_progress(const ProgressEvent& e, int64_t job, int64_t jobs);
  LogMode mode_;
  bool tty_;
  bool bar_open_ = false;
  std::string last_phase_;
  int64_t last_step_ = -1;
};

// "1:02:03" / "02:03" for a duration in seconds, "--:--" when unknown (< 0).
std::string format_duration(double seconds);

}  // namespace ma::cli
