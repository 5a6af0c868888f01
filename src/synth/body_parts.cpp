// From 3-D joints to the shapes the rasteriser draws. Projection is
// orthographic (the figure is small against the camera distance): yaw about
// the vertical, then the frame's placement and scale.
#include "synth/body_parts.h"

#include <algorithm>
#include <cmath>

#include "synth/densepose_palette.h"

namespace ma::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Which side of an arm the "front" chart covers: measured on the shipped
// DensePose videos, a camera facing the figure sees the back chart of the upper
// arm along its outer edge and that of the lower arm along its inner edge.
constexpr double kUpperArmFrontShift = 55 * kPi / 180;
constexpr double kLowerArmFrontShift = 55 * kPi / 180;

struct Projector {
  double cx, ground, scale, lift, c, s;
  void operator()(Vec3 b, double& x, double& y, double& z) const {
    x = cx + (c * b.x + s * b.z) * scale;
    y = ground - (b.y + lift) * scale;
    z = (s * b.x - c * b.z) * scale;
  }
};

// Projected half-width and depth of an elliptic section (half-width w, half-depth d) turned by yaw.
void section(double w, double d, double yaw, double& half_width, double& half_depth) {
  half_width = std::hypot(w * std::cos(yaw), d * std::sin(yaw));
  half_depth = std::hypot(w * std::sin(yaw), d * std::cos(yaw));
}

}  // namespace

std::vector<Primitive> body_primitives(const Proportions& p, const Joints& j, const Placement& place, double head_yaw_offset,
                                       const Look& look, const View& view, double* scale_out) {
  const double scale = place.height * view.height;
  if (scale_out) *scale_out = scale;
  const Projector proj{place.cx * view.width, place.ground * view.height, scale, place.lift, std::cos(place.yaw),
                       std::sin(place.yaw)};
  std::vector<Primitive> parts;
  auto capsule = [&](Vec3 a, Vec3 b, double ra, double rb) {
    Primitive pr;
    proj(a, pr.ax, pr.ay, pr.za);
    proj(b, pr.bx, pr.by, pr.zb);
    pr.ra = ra * scale;
    pr.rb = rb * scale;
    pr.facing = place.yaw;
    pr.u1 = norm(b - a);
    return pr;
  };

  // Torso: chest (shirt) and pelvis (trousers), elliptic in section.
  double wa, da, wb, db, wc, dc;
  section(p.chest_half, p.chest_half * p.torso_depth, place.yaw, wa, da);
  section(p.waist_half, p.waist_half * p.torso_depth, place.yaw, wb, db);
  section(p.hips_half, p.hips_half * p.torso_depth, place.yaw, wc, dc);
  const Vec3 chest_top = j.neck_base + (0.02) * j.up_torso;
  const Vec3 crotch = j.pelvis - (0.045) * j.up_torso;
  for (int k = 0; k < 2; ++k) {
    Primitive t = k == 0 ? capsule(chest_top, j.waist, wa, wb) : capsule(j.waist, crotch, wb, wc);
    t.shape = Shape::slab;
    t.rounding = 0.35 * std::min(t.ra, t.rb);
    t.bulge = (k == 0 ? da / wa : dc / wc);
    t.front = kTorsoFront, t.back = kTorsoBack;
    t.surface = k == 0 ? Surface::shirt : Surface::pants;
    t.girth = p.chest_half;
    if (k == 1) t.u0 = norm(j.waist - chest_top), t.u1 += t.u0;
    parts.push_back(t);
  }

  // Neck and head: labelled by half (the figure's right = 23, left = 24).
  const double head_yaw = place.yaw + head_yaw_offset;
  Primitive neck = capsule(j.neck_base - 0.01 * j.up_head, j.head_base + (0.3 * p.head_radius) * j.up_head, p.r_neck,
                           p.r_neck);
  neck.front = kHeadRight, neck.back = kHeadLeft, neck.left_right = true, neck.facing = head_yaw;
  neck.surface = Surface::skin;
  parts.push_back(neck);
  const double chin = 0.78 * p.head_radius;
  Primitive head = capsule(j.head_base + chin * j.up_head, j.head_top - p.head_radius * j.up_head, chin,
                           p.head_radius);
  head.front = kHeadRight, head.back = kHeadLeft, head.left_right = true, head.facing = head_yaw;
  head.surface = Surface::head;
  head.bulge = 1.1;
  parts.push_back(head);

  for (int s = 0; s < 2; ++s) {
    const bool right = s == kRight;
    const double sign = side_sign(s);
    Primitive ua = capsule(j.shoulder[s], j.elbow[s], p.r_upper_arm[0], p.r_upper_arm[1]);
    ua.front = right ? kUpperArmRightFront : kUpperArmLeftFront;
    ua.back = right ? kUpperArmRightBack : kUpperArmLeftBack;
    ua.front_centre = -sign * kUpperArmFrontShift;
    ua.surface = Surface::shirt, ua.cover = look.sleeve, ua.girth = p.r_upper_arm[0];
    Primitive la = capsule(j.elbow[s], j.wrist[s], p.r_lower_arm[0], p.r_lower_arm[1]);
    la.front = right ? kLowerArmRightFront : kLowerArmLeftFront;
    la.back = right ? kLowerArmRightBack : kLowerArmLeftBack;
    la.front_centre = sign * kLowerArmFrontShift;
    la.surface = Surface::shirt, la.cover = look.sleeve, la.girth = p.r_lower_arm[0];
    la.u0 = ua.u1, la.u1 += la.u0;
    Primitive hand = capsule(j.wrist[s], j.hand_tip[s], p.r_hand, 0.8 * p.r_hand);
    hand.front = hand.back = right ? kHandRight : kHandLeft;
    hand.surface = Surface::skin;
    Primitive ul = capsule(j.hip[s], j.knee[s], p.r_upper_leg[0], p.r_upper_leg[1]);
    ul.front = right ? kUpperLegRightFront : kUpperLegLeftFront;
    ul.back = right ? kUpperLegRightBack : kUpperLegLeftBack;
    ul.surface = Surface::pants, ul.cover = look.trouser, ul.girth = p.r_upper_leg[0];
    Primitive ll = capsule(j.knee[s], j.ankle[s], p.r_lower_leg[0], p.r_lower_leg[1]);
    ll.front = right ? kLowerLegRightFront : kLowerLegLeftFront;
    ll.back = right ? kLowerLegRightBack : kLowerLegLeftBack;
    ll.surface = Surface::pants, ll.cover = look.trouser, ll.girth = p.r_lower_leg[0];
    ll.u0 = ul.u1, ll.u1 += ll.u0;
    Primitive foot = capsule(j.heel[s], j.toe[s], p.r_foot, 0.8 * p.r_foot);
    foot.front = foot.back = right ? kFootRight : kFootLeft;
    foot.surface = Surface::shoes;
    for (const Primitive& pr : {ua, la, hand, ul, ll, foot}) parts.push_back(pr);
  }
  // Farthest first (the rasteriser also depth-tests each sample).
  std::stable_sort(parts.begin(), parts.end(),
                   [](const Primitive& a, const Primitive& b) { return a.za + a.zb > b.za + b.zb; });
  return parts;
}

}  // namespace ma::synth
