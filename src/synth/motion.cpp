// The motion programs. Each is a few sinusoids on the joint angles of
// skeleton.h, chosen to look like the movement it names, plus a small idle sway
// so that no two clips are the same.
#include "synth/motion.h"

#include <algorithm>
#include <cmath>

namespace ma::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;

double smoothstep(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return x * x * (3 - 2 * x);
}
double lerp(double a, double b, double t) { return a + (b - a) * t; }

// Leg swing of walking/stepping: `stride` is the hip swing in radians.
void step_legs(Pose& p, double w, double stride) {
  for (int s = 0; s < 2; ++s) {
    const double th = w + (s == kLeft ? kPi : 0.0);
    p.leg[s].flex = stride * std::sin(th);
    p.leg[s].bend = 0.08 + 1.6 * stride * std::max(0.0, std::cos(th));
    p.leg[s].abduct = 0.04;
    p.foot_pitch[s] = 0.3 * stride * std::max(0.0, -std::cos(th));
  }
}

void relaxed_arm(LimbAngles& a) {
  a.abduct = 0.1;
  a.bend = 0.2;
}

void walk(Pose& p, const MotionSpec& m, double w, double stride_scale) {
  const double stride = 0.42 * m.amount * stride_scale;
  step_legs(p, w, stride);
  for (int s = 0; s < 2; ++s) {
    const double th = w + (s == kLeft ? 0.0 : kPi);  // arms swing against the legs
    p.arm[s].flex = 0.75 * stride * std::sin(th);
    p.arm[s].abduct = 0.09;
    p.arm[s].bend = 0.25 + 0.5 * std::max(0.0, p.arm[s].flex);
  }
  p.spine_pitch = 0.05;
}

void dance(Pose& p, const MotionSpec& m, double w) {
  const double a = m.amount;
  const double bounce = 0.5 - 0.5 * std::cos(2 * w);  // knees on every beat
  for (int s = 0; s < 2; ++s) {
    p.leg[s].bend = (0.1 + 0.45 * bounce) * a;
    p.leg[s].flex = 0.5 * p.leg[s].bend;
    p.leg[s].abduct = 0.12;
  }
  p.spine_roll = 0.12 * a * std::sin(w);
  p.head_roll = -0.1 * a * std::sin(w);
  if (m.style == 0) {  // arms up and down in turn
    for (int s = 0; s < 2; ++s) {
      const double th = w + (s == kLeft ? kPi : 0.0);
      p.arm[s].abduct = 1.5 + 1.1 * a * std::sin(th);
      p.arm[s].flex = 0.3;
      p.arm[s].bend = 0.5 + 0.5 * std::cos(th);
      p.arm[s].bend_roll = kPi / 2;
    }
  } else if (m.style == 1) {  // point up on one side, hand on the hip on the other, switching
    const int up = std::sin(w / 2) > 0 ? m.side : 1 - m.side;
    LimbAngles& u = p.arm[up];
    u.abduct = 2.3 + 0.3 * std::sin(2 * w);
    u.flex = 0.2;
    u.bend = 0.15;
    LimbAngles& h = p.arm[1 - up];
    h.abduct = 0.55;
    h.flex = -0.2;
    h.bend = 1.9;
    h.bend_roll = -kPi / 2;
    p.spine_roll += up == kLeft ? -0.08 : 0.08;
  } else {  // swing both arms forward and back
    for (int s = 0; s < 2; ++s) {
      p.arm[s].flex = 0.9 * a * std::sin(w) + 0.3;
      p.arm[s].abduct = 0.25;
      p.arm[s].bend = 0.6 + 0.4 * std::sin(w + 1);
    }
    p.spine_pitch = 0.08 * std::sin(w);
  }
}

void wave(Pose& p, const MotionSpec& m, double seconds) {
  const double w = 2 * kPi * (2.0 * m.tempo * seconds + m.phase);
  for (int s = 0; s < 2; ++s) {
    const bool waving = s == m.side || m.style == 1;
    if (!waving) {
      relaxed_arm(p.arm[s]);
      continue;
    }
    const double lag = s == m.side ? 0.0 : kPi;
    p.arm[s].abduct = 1.55 + 0.35 * m.amount;
    p.arm[s].flex = 0.25;
    p.arm[s].bend = 1.0 + 0.45 * m.amount * std::sin(w + lag);
    p.arm[s].bend_roll = kPi / 2;
  }
  p.spine_roll = (m.side == kLeft ? -0.05 : 0.05) + 0.03 * std::sin(w / 4);
  p.head_roll = m.side == kLeft ? 0.08 : -0.08;
  for (int s = 0; s < 2; ++s) p.leg[s].abduct = 0.07;
}

// Returns the lift (body units).
double jump(Pose& p, const MotionSpec& m, double seconds) {
  double c = seconds * m.tempo + m.phase;
  c -= std::floor(c);
  const double air = c >= 0.3 && c < 0.8 ? std::sin(kPi * (c - 0.3) / 0.5) : 0.0;
  const double q = c < 0.3 ? c + 1.0 : c;  // ground time runs 0.8 .. 1.3
  const double crouch = q >= 0.8 ? std::sin(kPi * (q - 0.8) / 0.5) : 0.0;
  for (int s = 0; s < 2; ++s) {
    p.leg[s].bend = 0.1 + 1.1 * crouch * m.amount + 0.3 * air;
    p.leg[s].flex = 0.55 * p.leg[s].bend;
    p.leg[s].abduct = m.style == 1 ? 0.1 + 0.35 * air : 0.06;
    p.foot_pitch[s] = 0.7 * air;
    if (m.style == 1) {  // star jump: arms out and up
      p.arm[s].abduct = 0.3 + 2.2 * air;
      p.arm[s].bend = 0.2;
    } else {  // arms swing back in the crouch, up in the air
      p.arm[s].flex = -0.6 * crouch + 2.4 * air;
      p.arm[s].abduct = 0.15;
      p.arm[s].bend = 0.3;
    }
  }
  p.spine_pitch = 0.35 * crouch;
  return (0.07 + 0.08 * m.amount) * air;
}

void idle_sway(Pose& p, const MotionSpec& m, double seconds) {
  auto n = [&](uint64_t k, double rate) { return smooth_noise(m.noise_key + k, seconds * rate); };
  p.head_pitch += 0.08 * n(1, 0.7);
  p.head_roll += 0.06 * n(2, 0.6);
  p.head_yaw += 0.25 * n(3, 0.4);
  p.spine_roll += 0.03 * n(4, 0.5);
  p.spine_pitch += 0.03 * n(5, 0.5);
  for (int s = 0; s < 2; ++s) {
    p.arm[s].abduct += 0.06 * n(10 + s, 0.8);
    p.arm[s].flex += 0.06 * n(12 + s, 0.8);
    p.arm[s].bend += 0.08 * n(14 + s, 0.9);
  }
}

}  // namespace

const char* motion_name(Motion m) {
  switch (m) {
    case Motion::walk: return "walk";
    case Motion::dance: return "dance";
    case Motion::wave: return "wave";
    case Motion::turn: return "turn";
    case Motion::jump: return "jump";
  }
  return "?";
}

MotionSpec sample_motion(Rng& rng, int kind) {
  MotionSpec m;
  m.kind = static_cast<Motion>(kind >= 0 && kind < kMotionCount ? kind : rng.below(kMotionCount));
  m.tempo = rng.uniform(0.7, 1.4);
  m.amount = rng.uniform(0.7, 1.15);
  m.phase = rng.uniform();
  m.side = rng.below(2);
  m.style = rng.below(3);
  m.noise_key = rng.next();
  // Facing: mostly towards the camera, as in dance videos, but every view occurs.
  const size_t view = rng.weighted({0.55, 0.2, 0.1, 0.15});
  const double sign = rng.chance(0.5) ? 1.0 : -1.0;
  const double yaw = view == 0 ? rng.uniform(-0.4, 0.4)
                     : view == 1 ? sign * rng.uniform(0.5, 1.1)
                     : view == 2 ? sign * rng.uniform(1.2, 1.7)
                                 : kPi + rng.uniform(-0.5, 0.5);
  m.yaw0 = yaw;
  m.yaw1 = yaw + rng.uniform(-0.3, 0.3);
  // Size and framing: whole figure, or closer with the feet out of the frame.
  const bool close = rng.chance(0.2);
  m.height0 = close ? rng.uniform(0.95, 1.25) : rng.uniform(0.55, 0.85);
  m.height1 = m.height0 * (rng.chance(0.5) ? rng.uniform(0.85, 1.18) : 1.0);
  const double top0 = rng.uniform(0.04, close ? 0.08 : std::max(0.05, 0.96 - m.height0));
  m.ground0 = top0 + m.height0;
  // Zoom about the figure's middle, keeping the crown in the frame.
  m.ground1 = std::max(m.ground0 + 0.5 * (m.height1 - m.height0), m.height1 + 0.02);
  m.x0 = rng.uniform(0.38, 0.62);
  m.x1 = m.x0 + rng.uniform(-0.06, 0.06);
  switch (m.kind) {
    case Motion::walk:
      if (rng.chance(0.45)) {  // across the frame, seen from the side
        m.yaw0 = sign * rng.uniform(1.35, 1.75);
        m.yaw1 = m.yaw0;
        const double travel = rng.uniform(0.15, 0.35);
        m.x0 = 0.5 - sign * travel;
        m.x1 = 0.5 + sign * travel;
      }
      break;
    case Motion::turn:
      m.yaw1 = m.yaw0 + sign * rng.uniform(kPi, 3 * kPi);
      break;
    case Motion::jump:
      m.style = rng.below(2);
      // Room above the head for the jump.
      m.ground0 += 0.06, m.ground1 += 0.06;
      break;
    case Motion::wave:
      m.style = rng.chance(0.25) ? 1 : 0;
      break;
    case Motion::dance: break;
  }
  return m;
}

PoseAt motion_at(const MotionSpec& m, double seconds, double progress) {
  PoseAt out;
  Pose& p = out.pose;
  const double w = 2 * kPi * (m.tempo * seconds + m.phase);
  for (int s = 0; s < 2; ++s) relaxed_arm(p.arm[s]);
  double lift = 0, yaw = lerp(m.yaw0, m.yaw1, progress), dx = 0;
  switch (m.kind) {
    case Motion::walk: walk(p, m, w, 1.0); break;
    case Motion::dance:
      dance(p, m, w);
      yaw += 0.3 * m.amount * std::sin(w / 2);
      dx = 0.025 * m.amount * std::sin(w);
      break;
    case Motion::wave: wave(p, m, seconds); break;
    case Motion::turn:
      yaw = lerp(m.yaw0, m.yaw1, smoothstep(progress));
      walk(p, m, w * 1.5, 0.35);  // small steps while turning
      for (int s = 0; s < 2; ++s) p.arm[s].abduct += 0.25;
      break;
    case Motion::jump: lift = jump(p, m, seconds); break;
  }
  idle_sway(p, m, seconds);
  Placement& pl = out.place;
  pl.yaw = yaw;
  pl.cx = lerp(m.x0, m.x1, progress) + dx;
  pl.height = lerp(m.height0, m.height1, progress);
  pl.ground = lerp(m.ground0, m.ground1, progress);
  pl.lift = lift;
  return out;
}

}  // namespace ma::synth
