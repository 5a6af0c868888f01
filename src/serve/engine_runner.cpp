#include "serve/engine_runner.h"

#include "pipeline/file_animation.h"
#include "pose/extracted_motion.h"
#include "util/error.h"

namespace ma::serve {

JobRunner make_engine_runner(std::shared_ptr<Animator> animator, std::string densepose_weights) {
  return [animator, densepose_weights](const JobSpec& spec, const ProgressSink& progress, const std::atomic<bool>& stop) {
    FileAnimation job;
    job.source = spec.source_path;
    job.motion = spec.motion_path;
    job.params = spec.params.animation();
    job.video_out = spec.result_path;
    job.grid_out = spec.grid_path;
    // A raw video: its DensePose motion (the densepose command's defaults) in a
    // temporary file next to the result, removed once the job ends.
    std::unique_ptr<pose::ExtractedMotion> extracted;
    if (spec.params.extract_pose) {
      if (densepose_weights.empty()) throw Error("extract_pose: the server has no --densepose-weights");
      pose::MotionOptions m;
      m.weights = densepose_weights;
      m.input = spec.motion_path;
      auto pose_progress = [&progress](int64_t, int64_t) {
        if (progress) progress(ProgressEvent{"pose"});
      };
      extracted = std::make_unique<pose::ExtractedMotion>(m, spec.result_path + ".pose.mp4", pose_progress, &stop);
      job.motion = extracted->path();
    }
    // The engine's "done" comes before the videos are encoded: the job is done
    // when the queue says so, after this returns.
    ProgressCallback forward = [&progress](const ProgressEvent& e) {
      if (!progress) return;
      if (e.phase != "done") return progress(e);
      ProgressEvent writing = e;
      writing.phase = "write";
      progress(writing);
    };
    FileAnimationResult result = run_file_animation(*animator, job, forward, &stop);
    JobOutcome outcome;
    outcome.frames = result.frames;
    outcome.grid = true;
    return outcome;
  };
}

}  // namespace ma::serve
