// `animate --dataset DIR [--videos LIST] --out DIR`: one animation per video
// of a TikTok-layout dataset (<video>/images/<frame> + <video>/densepose/<frame>,
// scanned and checked by data::Dataset as the trainer does), as DisCo
// evaluates: the reference is the video's first frame, the motion its
// DensePose frames; both are centre-cropped to the output aspect and resized
// (Pillow bicubic). The result goes to OUT/<video>/<frame>.png, named as the
// video's images/ frames, which is the layout `eval --prepare-gt` writes the
// ground truth in, so `eval --pred OUT --gt GT` pairs them.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "pipeline/file_animation.h"

namespace ma::app {

struct DatasetJobs {
  data::Dataset dataset;
  std::vector<FileAnimation> jobs;  // one per selected video
  std::vector<size_t> clips;       // the dataset clip of each job
};

// `videos`: "" (all), names separated by commas, or a file with one name per
// line (blank lines and '#' comments skipped). An unknown name is one
// ma::Error naming it. `base` carries the sampling settings, max_frames and
// offset; each job gets its source, motion, frames_out and frame names.
DatasetJobs plan_dataset_jobs(const std::string& dir, const std::string& videos, const std::string& out_dir,
                              const FileAnimation& base);

// The inputs of jobs[i]: the first frame and the motion frames, cropped and resized.
AnimationInputs load_dataset_inputs(const DatasetJobs& plan, size_t i);

}  // namespace ma::app
