// A raw video of a person -> the DensePose motion video MagicAnimate takes:
// frames resampled to the output rate, DensePose R-CNN on each, the part
// labels composed per frame (optionally voted over neighbouring frames
// against flicker), centre-cropped (or padded) to a square, resized with
// nearest neighbour so the palette stays exact, painted and encoded H.264.
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "models/densepose/config.h"
#include "pose/colormap.h"

namespace ma::pose {

struct MotionOptions {
  std::string weights, input, out, frames_out;
  std::string config;          // "" = recognise from the weights
  double min_score = 0.8;      // detections below are dropped (apply_net's default; 0.05 = vid2densepose)
  int64_t max_people = 0;      // keep the N best-scoring people per frame (0: all)
  int64_t size = 512;          // output side (0: keep the frame size, no crop or pad)
  bool crop = true;            // centre crop to a square; false: pad to a square with background
  double fps = 25;             // output rate (0: the input's)
  int64_t smooth = 0;          // label vote over +-N frames
  Colormap cmap = Colormap::Viridis;
  // Changes settings no weight shape shows (the tests' small input size); runs after min_score is applied.
  std::function<void(densepose::DensePoseConfig&)> adjust_config;
};

struct MotionStats {
  int64_t input_frames = 0, frames = 0, frames_with_people = 0;
  double input_fps = 0;
  double flicker_raw = 0, flicker = 0;  // share of person pixels whose label changes between frames
};

// Frame k of the output shows source frame round(k * fps_in / fps_out); the
// output lasts as long as the input (at least one frame).
std::vector<int64_t> resample_frame_indices(int64_t frames, double fps_in, double fps_out);

// Per pixel, the most frequent label over frames [t - radius, t + radius]
// (clipped to the sequence); a tie keeps frame t's own label if it is among
// the most frequent, else the smallest of them.
std::vector<at::Tensor> vote_labels(const std::vector<at::Tensor>& maps, int64_t radius);

// Over consecutive frames: pixels whose label differs, divided by pixels
// that are a person (label > 0) in either frame. 0 for fewer than 2 frames.
double label_flicker(const std::vector<at::Tensor>& maps);

// Centre crop (or pad with label 0) to a square, then nearest-neighbour to size x size.
at::Tensor square_labels(const at::Tensor& map, int64_t size, bool crop);

// Per-frame progress: (frames done, frames total).
using MotionProgress = std::function<void(int64_t done, int64_t total)>;

// The whole command. Outputs appear only when complete (a failure or a
// cancel leaves nothing); throws ma::Error with one line on bad input
// (unreadable video, weights of another model, no person in any frame).
MotionStats make_motion_video(const MotionOptions& o, const MotionProgress& progress = {},
                              const std::atomic<bool>* cancel = nullptr);

}  // namespace ma::pose
