// The samples of FID-VID and FVD as DisCo's gen_eval.sh (ef1e88e) forms them
// from frame folders (DatasetFVDVideoFromFramesResize, sample_duration 16):
// for every frame, the window of it and the next 15 frames by index - the
// name with its trailing number + 1 .. + 15, zero-padded to the same width -
// kept only when all exist; so stride 1, N - 15 windows per complete video.
// Each window is one sample; windows never span two videos. Frames from a
// video file (no names) are windowed by position.
//   FID-VID: each frame PIL-bicubic (float) to 112x112, RGB 0-255 minus the
//            ActivityNet mean (114.7748, 107.7354, 99.4750) -> 3D ResNet-50.
//   FVD:     each frame PIL-bicubic (float) to 224x224, x / 127.5 - 1 -> I3D.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "eval/i3d.h"
#include "eval/resnet3d.h"

namespace ma::eval {

constexpr int64_t kVideoWindow = 16;

// The windows of one video as frame positions (each kVideoWindow long), in
// the order of their first frame. `names`: the frames' stems in order, or
// empty (positions: every start 0 .. count - 16).
std::vector<std::vector<int64_t>> video_windows(const std::vector<std::string>& names, int64_t count);

// ma::Error ("<metric> needs at least 2 windows ... in <role>, found n") unless n >= 2.
void require_windows(int64_t n, const std::string& metric, const std::string& role);

// RGB8 [H, W, 3] frames -> the networks' inputs [3, T, S, S] (float32).
at::Tensor resnet3d_frames(const std::vector<at::Tensor>& rgb8);
at::Tensor i3d_frames(const std::vector<at::Tensor>& rgb8);

// One side's samples: the features of every window of every video added.
// Either network may be null (that metric not requested).
class VideoFeatures {
 public:
  VideoFeatures(const Resnet3d* resnet, const InceptionI3d* i3d) : resnet_(resnet), i3d_(i3d) {}
  void add_video(const std::vector<at::Tensor>& rgb8, const std::vector<std::string>& names);
  // [windows, D]; ma::Error naming `role` when fewer than 2 windows were found.
  at::Tensor resnet_features(const std::string& role) const;
  at::Tensor i3d_features(const std::string& role) const;
  int64_t windows() const { return windows_; }

 private:
  const Resnet3d* resnet_;
  const InceptionI3d* i3d_;
  std::vector<at::Tensor> resnet_out_, i3d_out_;
  int64_t windows_ = 0;
};

}  // namespace ma::eval
