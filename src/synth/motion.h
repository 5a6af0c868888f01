// How a synthetic figure moves through a clip: a motion kind with its tempo
// and amplitude, and where the figure stands, faces and how large it is, all
// as smooth functions of time.
#pragma once
#include <cstdint>

#include "synth/rng.h"
#include "synth/skeleton.h"

namespace ma::synth {

enum class Motion { walk, dance, wave, turn, jump };
constexpr int kMotionCount = 5;
const char* motion_name(Motion m);

struct MotionSpec {
  Motion kind = Motion::walk;
  double tempo = 1;       // cycles per second
  double amount = 1;      // amplitude scale
  double phase = 0;       // cycles
  int side = kRight;      // the waving / leading arm
  int style = 0;          // a variant of the kind (dance: 3 styles, wave: one or both arms)
  double yaw0 = 0, yaw1 = 0;        // facing at the clip's start and end (radians, 0 = towards the camera)
  double x0 = 0.5, x1 = 0.5;        // horizontal centre (fraction of the width)
  double height0 = 0.7, height1 = 0.7;  // figure height (fraction of the frame height)
  double ground0 = 0.92, ground1 = 0.92;  // sole line (fraction of the height; > 1 cuts the feet off)
  uint64_t noise_key = 0;           // the figure's idle sway
};

// `kind` < 0 draws the kind too.
MotionSpec sample_motion(Rng& rng, int kind = -1);

// Where the figure is in the frame, in fractions of the frame height (cx in
// fractions of the width); lift raises it off the ground (body units).
struct Placement {
  double yaw = 0, cx = 0.5, ground = 0.92, height = 0.7, lift = 0;
};

struct PoseAt {
  Pose pose;
  Placement place;
};

// The pose at time `seconds`; `progress` (0..1) is the position in the clip,
// which drives the clip-long changes (turning, travelling, zooming).
PoseAt motion_at(const MotionSpec& m, double seconds, double progress);

}  // namespace ma::synth
