#include "pose/extracted_motion.h"

namespace ma::pose {

ExtractedMotion::ExtractedMotion(MotionOptions o, const std::string& near_path, const MotionProgress& progress,
                                 const std::atomic<bool>* cancel) {
  path_ = staged_.file(near_path);
  o.out = path_;
  o.frames_out.clear();
  stats_ = make_motion_video(o, progress, cancel);
}

}  // namespace ma::pose
