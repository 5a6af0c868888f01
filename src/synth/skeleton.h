// The synthetic figure's skeleton: body proportions, a pose as joint angles,
// and forward kinematics to 3-D joint positions in the body frame.
//
// Body frame: +x = the figure's left, +y = up, +z = the way it faces; lengths in
// units of its standing height (soles to crown = 1). Sides are indexed
// 0 = right, 1 = left (side_sign -1 / +1).
#pragma once
#include <cmath>

#include "synth/rng.h"

namespace ma::synth {

struct Vec3 {
  double x = 0, y = 0, z = 0;
};
inline Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec3 operator*(double k, Vec3 a) { return {k * a.x, k * a.y, k * a.z}; }
inline double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
inline double norm(Vec3 a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalized(Vec3 a) {
  const double n = norm(a);
  return n > 1e-12 ? (1.0 / n) * a : Vec3{0, 1, 0};
}

constexpr int kRight = 0, kLeft = 1;
inline double side_sign(int side) { return side == kLeft ? 1.0 : -1.0; }

// Lengths and thicknesses; radii are [near the body, far end].
struct Proportions {
  double torso = 0, neck = 0, head = 0, head_radius = 0;
  double shoulder_half = 0, hip_half = 0;                   // joint offsets from the midline
  double chest_half = 0, waist_half = 0, hips_half = 0;     // torso half-widths
  double torso_depth = 0;                                    // torso half-depth / half-width
  double upper_arm = 0, lower_arm = 0, hand = 0;
  double upper_leg = 0, lower_leg = 0, foot = 0;
  double r_upper_arm[2] = {0, 0}, r_lower_arm[2] = {0, 0}, r_upper_leg[2] = {0, 0}, r_lower_leg[2] = {0, 0};
  double r_hand = 0, r_foot = 0, r_neck = 0;
};

// Varied builds: slim to broad, short to long legs, child-like to adult heads.
Proportions sample_proportions(Rng& rng);

// One limb: flexion (forward, radians), abduction (outward), the bend of the
// elbow/knee and, for arms, the roll of the plane it bends in (0 = forward,
// +pi/2 = upward when the arm is raised sideways).
struct LimbAngles {
  double flex = 0, abduct = 0, bend = 0, bend_roll = 0;
};

struct Pose {
  double spine_pitch = 0, spine_roll = 0;               // lean forward / to the right
  double head_pitch = 0, head_roll = 0, head_yaw = 0;   // nod, tilt, turn (head_yaw only changes the head's labels)
  LimbAngles arm[2], leg[2];
  double foot_pitch[2] = {0, 0};                        // toes pointing down
};

struct Joints {
  Vec3 pelvis, waist, neck_base, head_base, head_top;
  Vec3 shoulder[2], elbow[2], wrist[2], hand_tip[2];
  Vec3 hip[2], knee[2], ankle[2], heel[2], toe[2];
  Vec3 up_torso, up_head;
};

// Joint positions, shifted so the lowest point of the feet stands on y = 0.
Joints forward_kinematics(const Proportions& p, const Pose& pose);

}  // namespace ma::synth
