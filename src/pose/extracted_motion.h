// `animate --extract-pose` and serve's extract_pose jobs: the DensePose
// motion video of a raw video, made for one animation in a temporary file
// next to where it may be kept, and removed unless kept.
#pragma once
#include <atomic>
#include <string>

#include "util/staged_outputs.h"
#include "pose/motion_video.h"

namespace ma::pose {

class ExtractedMotion {
 public:
  // Runs make_motion_video on o.input (o.out is replaced) into a temporary
  // file in the folder of `near_path` (checked writable by the caller). Throws what make_motion_video throws,
  // leaving nothing behind.
  ExtractedMotion(MotionOptions o, const std::string& near_path, const MotionProgress& progress = {},
                  const std::atomic<bool>* cancel = nullptr);

  const std::string& path() const { return path_; }
  const MotionStats& stats() const { return stats_; }

  // Moves the video to `near_path` (the file is otherwise removed with this object).
  void keep() { staged_.commit(); }

 private:
  StagedOutputs staged_;
  std::string path_;
  MotionStats stats_;
};

}  // namespace ma::pose
