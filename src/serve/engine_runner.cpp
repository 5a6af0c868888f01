#include "serve/engine_runner.h"

#include "pipeline/animation_job.h"

namespace ma::serve {

JobRunner make_engine_runner(std::shared_ptr<Animator> animator) {
  return [animator](const JobSpec& spec, const ProgressSink& progress, const std::atomic<bool>& stop) {
    AnimationJob job;
    job.source = spec.source_path;
    job.motion = spec.motion_path;
    job.params = spec.params.animation();
    job.video_out = spec.result_path;
    job.grid_out = spec.grid_path;
    // The engine's "done" comes before the videos are encoded: the job is done
    // when the queue says so, after this returns.
    ProgressCallback forward = [&progress](const ProgressEvent& e) {
      if (!progress) return;
      if (e.phase != "done") return progress(e);
      ProgressEvent writing = e;
      writing.phase = "write";
      progress(writing);
    };
    JobResult result = run_animation_job(*animator, job, forward, &stop);
    JobOutcome outcome;
    outcome.frames = result.frames;
    outcome.grid = true;
    return outcome;
  };
}

}  // namespace ma::serve
