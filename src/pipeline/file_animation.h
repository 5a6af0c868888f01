// One animation from files to files (FileAnimation: input files, parameters,
// output files): the unit of work of `magicanimate animate` (flags or each
// pair of a config file), and what a server job (serve/job.h) runs once its
// uploads are on disk. Validation that needs no models runs first, so
// mistakes fail fast with one line.
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <string>
#include <vector>

#include "pipeline/animation.h"

namespace ma {

struct FileAnimation {
  std::string source;  // reference image file
  std::string motion;  // DensePose video file, or a folder of numbered frames
  AnimationParams params;
  int64_t max_frames = -1;  // frames kept from `offset` on; < 0: all
  int64_t offset = 0;       // first motion frame used
  double fps = 0;           // output rate; 0: the motion video's (frame folders: 25)

  // Outputs; empty ones are not written.
  std::string video_out;    // the result as H.264 MP4
  std::string grid_out;     // source | control | result rows, like the original's grid.mp4
  std::string frames_out;   // folder receiving 0000.png, 0001.png, ...
  std::vector<std::string> frame_names;  // or these names (+ ".png"), one per result frame
  std::string control_out;  // the resized control video (the original's ctrl.mp4)
  std::string source_out;   // the source image for every frame (the original's orig.mp4)
};

struct AnimationInputs {
  at::Tensor source;   // uint8 [H, W, 3] at the output size
  at::Tensor control;  // uint8 [F, H, W, 3] at the output size
  double fps = 25.0;   // the motion video's rate
};

struct FileAnimationResult {
  std::vector<std::string> outputs;  // final paths written
  int64_t frames = 0;
  double fps = 0;
};

// params.validate() (kept for callers of the free function).
inline void validate_params(const AnimationParams& params) { params.validate(); }

// validate_params plus: inputs exist and are readable, at least one output is
// requested, outputs are writable, distinct and not inputs. Decodes nothing.
void validate_file_animation(const FileAnimation& anim);

// Decodes the source image and motion frames and resizes both to the output
// size with Pillow's default filter, as the original does.
AnimationInputs load_animation_inputs(const FileAnimation& anim);

// Animates `inputs` and writes every requested output (temporary names first,
// renamed together at the end). Throws ma::Cancelled when *cancel is set,
// leaving no output behind.
FileAnimationResult run_file_animation(Animator& animator, const FileAnimation& anim, const AnimationInputs& inputs,
                            const ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr);

// validate_file_animation + load_animation_inputs + run_file_animation.
FileAnimationResult run_file_animation(Animator& animator, const FileAnimation& anim, const ProgressCallback& progress = {},
                            const std::atomic<bool>* cancel = nullptr);

// A fresh non-deterministic seed (the original's seed -1: torch.seed()).
uint64_t random_seed();

}  // namespace ma
