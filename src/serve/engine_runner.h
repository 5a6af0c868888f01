// The job runner that really animates: the shared "one animation from files"
// helper (pipeline/file_animation.h) on an Animator whose models were loaded
// once when the server started.
#pragma once
#include <memory>
#include <string>

#include "pipeline/animation.h"
#include "serve/job_runner.h"

namespace ma::serve {

// Writes result.mp4 (the animation) and grid.mp4 (source | control | result)
// at the motion video's frame rate. `animator` is only used from the worker thread.
// Jobs with extract_pose first make the motion with `densepose_weights` (detectron2 .pkl).
JobRunner make_engine_runner(std::shared_ptr<Animator> animator, std::string densepose_weights = "");

}  // namespace ma::serve
