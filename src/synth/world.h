// One synthetic clip: a figure (build and look), how it moves, and where;
// drawn from a seed and a clip index, rendered frame by frame.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "synth/appearance.h"
#include "synth/background.h"
#include "synth/motion.h"
#include "synth/raster.h"
#include "synth/skeleton.h"

namespace ma::synth {

// The frame rate the motions are timed for (MagicAnimate's output rate).
constexpr double kFps = 25.0;

struct ClipSpec {
  Proportions body;
  Look look;
  MotionSpec motion;
  Background background;
};

// Clip `index` of the dataset made with `seed`: the same whatever the number of clips.
ClipSpec sample_clip(uint64_t seed, int index);

class ClipRenderer {
 public:
  ClipRenderer(const ClipSpec& clip, int size);
  // Frame `index` of a clip `frames` long (the length sets the pace of turns and travel).
  Frame render(int index, int frames) const;

 private:
  ClipSpec clip_;
  int size_, ss_;
  std::vector<Rgbf> background_;  // at the sample grid
};

}  // namespace ma::synth
