// Each backdrop is a function of the normalised position (x, y in [0, 1]).
#include "synth/background.h"

#include <algorithm>
#include <cmath>

namespace ma::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;

double fract(double x) { return x - std::floor(x); }

double lattice(uint64_t key, int64_t i, int64_t j) {
  return static_cast<double>(mix64(key ^ mix64(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL ^
                                               (static_cast<uint64_t>(j) + 0x632be59bd9b4e019ULL))) >>
                             11) *
         (1.0 / 9007199254740992.0);
}

// 2-D value noise in [0, 1], smooth (cubic interpolation), with a few octaves.
double value_noise(uint64_t key, double x, double y) {
  double sum = 0, amp = 0.5, total = 0;
  for (int o = 0; o < 4; ++o) {
    const double fx = std::floor(x), fy = std::floor(y);
    const int64_t i = static_cast<int64_t>(fx), j = static_cast<int64_t>(fy);
    double tx = x - fx, ty = y - fy;
    tx = tx * tx * (3 - 2 * tx), ty = ty * ty * (3 - 2 * ty);
    const double a = lattice(key + o, i, j), b = lattice(key + o, i + 1, j);
    const double c = lattice(key + o, i, j + 1), d = lattice(key + o, i + 1, j + 1);
    sum += amp * ((a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty);
    total += amp;
    amp *= 0.5, x *= 2.03, y *= 2.03;
  }
  return sum / total;
}

Rgbf random_colour(Rng& rng, double vmin, double vmax) {
  const double h = rng.uniform(), s = rng.uniform(0.05, 0.6), v = rng.uniform(vmin, vmax);
  // Low saturation keeps most backgrounds calm, as in real videos.
  const double r = v * (1 - s * (0.5 + 0.5 * std::cos(2 * kPi * h)));
  const double g = v * (1 - s * (0.5 + 0.5 * std::cos(2 * kPi * (h - 1.0 / 3))));
  const double b = v * (1 - s * (0.5 + 0.5 * std::cos(2 * kPi * (h - 2.0 / 3))));
  return {static_cast<float>(r), static_cast<float>(g), static_cast<float>(b)};
}

// Objects in the room: rectangles (frames, windows, doors, shelves) on the wall.
Rgbf room(const Background& bg, double x, double y) {
  if (y >= bg.horizon) {  // floorboards, with perspective: boards converge to the middle
    const double depth = (y - bg.horizon) / (1 - bg.horizon + 1e-9);
    const double u = (x - 0.5) / (0.25 + 0.75 * depth);
    const double board = fract(u / bg.scale * 0.5);
    Rgbf c = mix(bg.c[1], bg.c[2], 0.3 * value_noise(bg.key + 7, u * 4, depth * 30));
    if (board < 0.04) c = scaled(c, 0.8);
    return scaled(c, 0.85 + 0.15 * depth);
  }
  Rgbf c = mix(bg.c[0], scaled(bg.c[0], 0.85), y / bg.horizon);
  if (bg.horizon - y < 0.015) return scaled(bg.c[1], 0.7);  // skirting board
  for (int k = 0; k < 3; ++k) {
    const double cx = lattice(bg.key, k, 1), cy = 0.15 + 0.4 * lattice(bg.key, k, 2) * bg.horizon;
    const double w = 0.06 + 0.14 * lattice(bg.key, k, 3), h = 0.06 + 0.16 * lattice(bg.key, k, 4);
    if (std::fabs(x - cx) < w && std::fabs(y - cy) < h) {
      const bool frame = std::fabs(x - cx) > w - 0.012 || std::fabs(y - cy) > h - 0.012;
      return frame ? scaled(bg.c[3], 0.6) : mix(bg.c[3], bg.c[2], 0.5 * value_noise(bg.key + k, x * 6, y * 6));
    }
  }
  return c;
}

Rgbf outdoor(const Background& bg, double x, double y) {
  const double sx = 0.15 + 0.7 * lattice(bg.key, 0, 9), sy = 0.12 + 0.2 * lattice(bg.key, 1, 9);
  const double hill = bg.horizon - 0.08 * value_noise(bg.key + 3, x * 3, 0.5) - 0.04 * std::sin(x * 5 + bg.angle);
  if (y < hill) {
    const double d = std::hypot(x - sx, y - sy);
    if (d < 0.05) return {1.f, 0.95f, 0.8f};
    Rgbf sky = mix(bg.c[0], bg.c[1], y / bg.horizon);
    const double cloud = value_noise(bg.key + 5, x * 4, y * 9);
    return cloud > 0.62 ? mix(sky, {1.f, 1.f, 1.f}, std::min(1.0, (cloud - 0.62) * 5)) : sky;
  }
  if (y < bg.horizon) return scaled(bg.c[3], 0.7 + 0.3 * value_noise(bg.key + 8, x * 20, y * 20));
  const double depth = (y - bg.horizon) / (1 - bg.horizon + 1e-9);
  return scaled(mix(bg.c[2], scaled(bg.c[2], 0.7), value_noise(bg.key + 9, x * 30, y * 60)), 0.8 + 0.2 * depth);
}

}  // namespace

const char* backdrop_name(Backdrop b) {
  switch (b) {
    case Backdrop::gradient: return "gradient";
    case Backdrop::noise: return "noise";
    case Backdrop::tiles: return "tiles";
    case Backdrop::wallpaper: return "wallpaper";
    case Backdrop::room: return "room";
    case Backdrop::outdoor: return "outdoor";
  }
  return "?";
}

Background sample_background(Rng& rng) {
  Background bg;
  bg.kind = static_cast<Backdrop>(rng.below(kBackdropCount));
  for (Rgbf& c : bg.c) c = random_colour(rng, 0.25, 0.95);
  bg.horizon = rng.uniform(0.55, 0.8);
  bg.angle = rng.uniform(0, 2 * kPi);
  bg.scale = rng.uniform(0.05, 0.18);
  bg.key = rng.next();
  if (bg.kind == Backdrop::outdoor) {  // a blue-ish sky over green or sandy ground
    bg.c[0] = {0.45f, 0.65f, 0.95f};
    bg.c[1] = {0.8f, 0.88f, 0.98f};
    bg.c[0] = mix(bg.c[0], random_colour(rng, 0.5, 0.9), 0.25);
    bg.c[2] = rng.chance(0.6) ? Rgbf{0.3f, 0.55f, 0.25f} : Rgbf{0.8f, 0.72f, 0.5f};
    bg.c[3] = {0.35f, 0.45f, 0.4f};
  }
  return bg;
}

std::vector<Rgbf> render_background(const Background& bg, int width, int height) {
  std::vector<Rgbf> out(static_cast<size_t>(width) * static_cast<size_t>(height));
  const double ca = std::cos(bg.angle), sa = std::sin(bg.angle);
  for (int py = 0; py < height; ++py)
    for (int px = 0; px < width; ++px) {
      const double x = (px + 0.5) / width, y = (py + 0.5) / height;
      Rgbf c;
      switch (bg.kind) {
        case Backdrop::gradient: {
          const double t = std::clamp(0.5 + (x - 0.5) * ca + (y - 0.5) * sa, 0.0, 1.0);
          c = mix(bg.c[0], bg.c[1], t);
          break;
        }
        case Backdrop::noise: {
          const double n = value_noise(bg.key, x / bg.scale, y / bg.scale);
          c = mix(mix(bg.c[0], bg.c[1], n), bg.c[2], 0.5 * value_noise(bg.key + 11, x * 2, y * 2));
          break;
        }
        case Backdrop::tiles: {
          const double u = (x * ca + y * sa) / bg.scale, v = (-x * sa + y * ca) / bg.scale;
          const bool odd = (static_cast<int64_t>(std::floor(u)) + static_cast<int64_t>(std::floor(v))) & 1;
          c = odd ? bg.c[0] : mix(bg.c[0], bg.c[1], 0.6);
          if (fract(u) < 0.05 || fract(v) < 0.05) c = scaled(c, 0.75);  // grout
          break;
        }
        case Backdrop::wallpaper: {
          const double u = x / bg.scale;
          const double stripe = 0.5 + 0.5 * std::cos(2 * kPi * u);
          c = mix(bg.c[0], bg.c[1], 0.35 * stripe);
          const double du = fract(u + 0.5) - 0.5, dv = fract(y / bg.scale * 1.5) - 0.5;
          if (du * du + dv * dv < 0.02) c = bg.c[2];
          break;
        }
        case Backdrop::room: c = room(bg, x, y); break;
        case Backdrop::outdoor: c = outdoor(bg, x, y); break;
      }
      out[static_cast<size_t>(py) * static_cast<size_t>(width) + static_cast<size_t>(px)] = c;
    }
  return out;
}

}  // namespace ma::synth
