// DensePose's fine-segmentation coding, as the motion videos MagicAnimate
// ships were painted: part index I (0 = background, 1..24 = the charts of
// DensePose-COCO) drawn with OpenCV's COLORMAP_VIRIDIS at floor(I * 255/24),
// i.e. detectron2's DensePoseResultsFineSegmentationVisualizer with alpha 1 on a
// viridis(0) canvas (see docs/synth.md for the measurements behind it).
#pragma once
#include <array>
#include <cstdint>

#include "pose/colormap.h"

namespace ma::synth {

// The same 8-bit RGB triple the motion-video renderer (pose/) paints with.
using Rgb8 = pose::Rgb;

// DensePose-COCO part indices (dp_I). Where a part has two charts, which one a
// camera facing the figure sees ("Front") was measured on the shipped demo
// videos (inputs/applications/driving/densepose): torso 2, legs 9/10 and
// 13/14, upper arms 15/16, lower arms 21/22; the head is split into the
// figure's right (23) and left (24) half.
enum Part : uint8_t {
  kBackground = 0,
  kTorsoBack = 1,
  kTorsoFront = 2,
  kHandRight = 3,
  kHandLeft = 4,
  kFootLeft = 5,
  kFootRight = 6,
  kUpperLegRightBack = 7,
  kUpperLegLeftBack = 8,
  kUpperLegRightFront = 9,
  kUpperLegLeftFront = 10,
  kLowerLegRightBack = 11,
  kLowerLegLeftBack = 12,
  kLowerLegRightFront = 13,
  kLowerLegLeftFront = 14,
  kUpperArmLeftFront = 15,
  kUpperArmRightFront = 16,
  kUpperArmLeftBack = 17,
  kUpperArmRightBack = 18,
  kLowerArmLeftBack = 19,
  kLowerArmRightBack = 20,
  kLowerArmLeftFront = 21,
  kLowerArmRightFront = 22,
  kHeadRight = 23,
  kHeadLeft = 24,
};

constexpr int kPartCount = 25;  // background included

// OpenCV's viridis, 256 entries indexed by the 8-bit value applyColorMap looks
// up: pose::colormap_table(Viridis), the one table both the renderer and the
// synthetic world use.
const std::array<Rgb8, 256>& viridis_table();

// The colour part `index` (0..24) is painted with: viridis[floor(index * 255 / 24)].
Rgb8 part_colour(int index);

// The index whose colour is `c`, or -1 when `c` is none of the 25.
int part_of_colour(Rgb8 c);

}  // namespace ma::synth
