// Forward kinematics of the figure: a chain of rotations from the pelvis, with
// limbs placed in the (possibly leaning) torso's frame.
#include "synth/skeleton.h"

#include <algorithm>

namespace ma::synth {
namespace {

// Rotation about x: +a tips +y towards +z (a forward lean).
Vec3 rot_x(Vec3 v, double a) {
  return {v.x, v.y * std::cos(a) - v.z * std::sin(a), v.y * std::sin(a) + v.z * std::cos(a)};
}
// Rotation about z: +a tips +y towards -x (a lean to the figure's right).
Vec3 rot_z(Vec3 v, double a) {
  return {v.x * std::cos(a) - v.y * std::sin(a), v.x * std::sin(a) + v.y * std::cos(a), v.z};
}

struct Frame3 {
  Vec3 ex{1, 0, 0}, ey{0, 1, 0}, ez{0, 0, 1};
  Vec3 apply(Vec3 v) const { return v.x * ex + v.y * ey + v.z * ez; }
};

Frame3 rotated(const Frame3& f, double pitch, double roll) {
  Frame3 local;
  local.ex = rot_z(rot_x({1, 0, 0}, pitch), roll);
  local.ey = rot_z(rot_x({0, 1, 0}, pitch), roll);
  local.ez = rot_z(rot_x({0, 0, 1}, pitch), roll);
  return {f.apply(local.ex), f.apply(local.ey), f.apply(local.ez)};
}

// Direction of a limb hanging down, flexed forward and abducted outward.
Vec3 limb_direction(double flex, double abduct, double sign) {
  return {sign * std::sin(abduct), -std::cos(abduct) * std::cos(flex), std::cos(abduct) * std::sin(flex)};
}

// A unit vector perpendicular to u, as close to `want` as possible.
Vec3 perpendicular_towards(Vec3 u, Vec3 want, Vec3 fallback) {
  Vec3 w = want - dot(want, u) * u;
  if (norm(w) < 1e-6) w = fallback - dot(fallback, u) * u;
  return normalized(w);
}

}  // namespace

Proportions sample_proportions(Rng& rng) {
  Proportions p;
  const double build = rng.uniform(0.85, 1.25);      // overall thickness
  const double shoulders = rng.uniform(0.9, 1.15);   // broad or narrow shoulders
  const double hips = rng.uniform(0.9, 1.2);
  const double legs = rng.uniform(0.9, 1.1);          // leg length relative to the torso
  const double arms = rng.uniform(0.92, 1.08);
  const double head = rng.uniform(0.92, 1.25);        // > 1.1 reads as younger
  p.torso = 0.30;
  p.neck = 0.035;
  p.head = 0.125 * head;
  p.head_radius = 0.052 * head;
  p.upper_leg = 0.235 * legs;
  p.lower_leg = 0.225 * legs;
  p.foot = 0.07 * legs;
  p.upper_arm = 0.165 * arms;
  p.lower_arm = 0.145 * arms;
  p.hand = 0.055 * arms;
  p.shoulder_half = 0.105 * shoulders * std::sqrt(build);
  p.chest_half = 0.1 * shoulders * build;
  p.waist_half = 0.08 * build;
  p.hips_half = 0.092 * hips * build;
  p.hip_half = 0.05 * hips * std::sqrt(build);
  p.torso_depth = rng.uniform(0.5, 0.68);
  p.r_upper_arm[0] = 0.036 * build, p.r_upper_arm[1] = 0.028 * build;
  p.r_lower_arm[0] = 0.027 * build, p.r_lower_arm[1] = 0.02 * build;
  p.r_upper_leg[0] = 0.056 * build, p.r_upper_leg[1] = 0.04 * build;
  p.r_lower_leg[0] = 0.038 * build, p.r_lower_leg[1] = 0.025 * build;
  p.r_hand = 0.024 * std::sqrt(build);
  p.r_foot = 0.024 * std::sqrt(build);
  p.r_neck = 0.028 * build;
  // Normalise: soles to crown = 1 when standing straight.
  const double height = p.r_foot + p.lower_leg + p.upper_leg + p.torso + p.neck + p.head;
  for (double* v : {&p.torso, &p.neck, &p.head, &p.head_radius, &p.shoulder_half, &p.hip_half, &p.chest_half,
                    &p.waist_half, &p.hips_half, &p.upper_arm, &p.lower_arm, &p.hand, &p.upper_leg, &p.lower_leg,
                    &p.foot, &p.r_hand, &p.r_foot, &p.r_neck, &p.r_upper_arm[0], &p.r_upper_arm[1], &p.r_lower_arm[0],
                    &p.r_lower_arm[1], &p.r_upper_leg[0], &p.r_upper_leg[1], &p.r_lower_leg[0], &p.r_lower_leg[1]})
    *v /= height;
  return p;
}

Joints forward_kinematics(const Proportions& p, const Pose& pose) {
  Joints j;
  const Frame3 body;
  const Frame3 torso = rotated(body, pose.spine_pitch, pose.spine_roll);
  const Frame3 head = rotated(torso, pose.head_pitch, pose.head_roll);
  j.pelvis = {0, 0, 0};
  j.up_torso = torso.ey;
  j.up_head = head.ey;
  j.waist = j.pelvis + (0.4 * p.torso) * torso.ey;
  j.neck_base = j.pelvis + p.torso * torso.ey;
  j.head_base = j.neck_base + p.neck * head.ey;
  j.head_top = j.head_base + p.head * head.ey;
  for (int s = 0; s < 2; ++s) {
    const double sign = side_sign(s);
    // Arm, in the torso's frame so that a lean carries it.
    const LimbAngles& a = pose.arm[s];
    j.shoulder[s] = j.neck_base + torso.apply({sign * p.shoulder_half, -0.04 * p.torso, 0});
    const Vec3 ua = torso.apply(limb_direction(a.flex, a.abduct, sign));
    j.elbow[s] = j.shoulder[s] + p.upper_arm * ua;
    const Vec3 fwd = perpendicular_towards(ua, torso.ez, torso.ey);
    const Vec3 side_axis = normalized(cross(ua, fwd));
    // bend_roll > 0 turns the bend plane from forward towards up for a raised arm
    // on either side (the cross product flips with the side).
    const Vec3 plane = std::cos(a.bend_roll) * fwd + (-sign * std::sin(a.bend_roll)) * side_axis;
    const Vec3 la = normalized(std::cos(a.bend) * ua + std::sin(a.bend) * plane);
    j.wrist[s] = j.elbow[s] + p.lower_arm * la;
    j.hand_tip[s] = j.wrist[s] + p.hand * la;
    // Leg, from the pelvis (which does not lean).
    const LimbAngles& l = pose.leg[s];
    j.hip[s] = j.pelvis + Vec3{sign * p.hip_half, 0, 0};
    const Vec3 ul = limb_direction(l.flex, l.abduct, sign);
    j.knee[s] = j.hip[s] + p.upper_leg * ul;
    const Vec3 lfwd = perpendicular_towards(ul, {0, 0, 1}, {0, 1, 0});
    const Vec3 ll = normalized(std::cos(l.bend) * ul - std::sin(l.bend) * lfwd);
    j.ankle[s] = j.knee[s] + p.lower_leg * ll;
    const double fp = pose.foot_pitch[s];
    const Vec3 foot_dir = normalized({sign * 0.18, -std::sin(fp), std::cos(fp)});
    j.heel[s] = j.ankle[s] - (0.25 * p.foot) * foot_dir;
    j.toe[s] = j.ankle[s] + (0.75 * p.foot) * foot_dir;
  }
  // Stand on the ground: the lowest foot point (less its thickness) at y = 0.
  double lowest = 1e9;
  for (int s = 0; s < 2; ++s) lowest = std::min({lowest, j.heel[s].y, j.toe[s].y, j.ankle[s].y});
  const Vec3 shift{0, p.r_foot - lowest, 0};
  for (Vec3* v : {&j.pelvis, &j.waist, &j.neck_base, &j.head_base, &j.head_top}) *v = *v + shift;
  for (int s = 0; s < 2; ++s)
    for (Vec3* v : {&j.shoulder[s], &j.elbow[s], &j.wrist[s], &j.hand_tip[s], &j.hip[s], &j.knee[s], &j.ankle[s],
                    &j.heel[s], &j.toe[s]})
      *v = *v + shift;
  return j;
}

}  // namespace ma::synth
