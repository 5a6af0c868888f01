// Colours and patterns. Palettes are kept plausible (skin along a range of
// real tones, hair from natural colours with rare dyes, clothes in any hue but
// often neutral) so that a model trained on the figures meets people-like
// appearance statistics.
#include "synth/appearance.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ma::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;

Rgbf rgb(int r, int g, int b) { return {r / 255.f, g / 255.f, b / 255.f}; }

Rgbf from_hsv(double h, double s, double v) {
  h = std::fmod(h, 1.0) * 6;
  const int i = static_cast<int>(h) % 6;
  const double f = h - std::floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (i) {
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    case 5: r = v, g = p, b = q; break;
    default: break;
  }
  return {static_cast<float>(r), static_cast<float>(g), static_cast<float>(b)};
}

Rgbf jitter(Rng& rng, Rgbf c, double amount) {
  auto j = [&](float x) { return std::clamp(x + static_cast<float>(rng.uniform(-amount, amount)), 0.f, 1.f); };
  return {j(c.r), j(c.g), j(c.b)};
}

Rgbf cloth_colour(Rng& rng) {
  static const std::vector<Rgbf> neutrals = {rgb(245, 245, 240), rgb(25, 25, 28),   rgb(128, 128, 130),
                                             rgb(52, 72, 110),   rgb(90, 110, 150), rgb(190, 170, 140),
                                             rgb(80, 60, 45),    rgb(60, 80, 50)};
  if (rng.chance(0.4)) return jitter(rng, neutrals[static_cast<size_t>(rng.below(static_cast<int>(neutrals.size())))], 0.04);
  return from_hsv(rng.uniform(), rng.uniform(0.25, 0.9), rng.uniform(0.25, 0.95));
}

// A colour that stands out from `a` (for a pattern's second colour).
Rgbf contrasting(Rng& rng, Rgbf a) {
  for (int i = 0; i < 8; ++i) {
    Rgbf b = cloth_colour(rng);
    const double d = std::fabs(a.r - b.r) + std::fabs(a.g - b.g) + std::fabs(a.b - b.b);
    if (d > 0.6) return b;
  }
  const float l = (a.r + a.g + a.b) / 3 > 0.5f ? 0.1f : 0.92f;
  return {l, l, l};
}

Material sample_material(Rng& rng, double pattern_chance) {
  Material m;
  m.a = cloth_colour(rng);
  m.b = contrasting(rng, m.a);
  m.c = cloth_colour(rng);
  m.key = rng.next();
  m.period = rng.uniform(0.03, 0.09);
  if (rng.chance(pattern_chance)) m.pattern = static_cast<Pattern>(1 + rng.below(kPatternCount - 1));
  const size_t dir = rng.weighted({0.5, 0.3, 0.2});
  m.angle = dir == 0 ? 0.0 : dir == 1 ? kPi / 2 : (rng.chance(0.5) ? 1 : -1) * kPi / 4;
  return m;
}

double fract(double x) { return x - std::floor(x); }

double hash01(uint64_t key, int64_t i, int64_t j) {
  return static_cast<double>(mix64(key ^ mix64(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL +
                                               static_cast<uint64_t>(j))) >> 11) *
         (1.0 / 9007199254740992.0);
}

}  // namespace

Rgbf material_colour(const Material& m, double u, double v) {
  Rgbf c = m.a;
  const double p = m.period;
  switch (m.pattern) {
    case Pattern::solid: break;
    case Pattern::stripes: {
      const double x = u * std::cos(m.angle) + v * std::sin(m.angle);
      if (fract(x / p) < 0.45) c = m.b;
      break;
    }
    case Pattern::checks: {  // gingham: the crossing of two stripe sets
      const int bands = (fract(u / p) < 0.5 ? 1 : 0) + (fract(v / p) < 0.5 ? 1 : 0);
      c = mix(m.a, m.b, bands * 0.5);
      break;
    }
    case Pattern::dots: {
      const double row = std::floor(u / p);
      const double shift = fract(row * 0.5) * p;  // staggered rows
      const double du = fract(u / p) - 0.5, dv = fract((v + shift) / p) - 0.5;
      if (du * du + dv * dv < 0.09) c = m.b;
      break;
    }
    case Pattern::print: {  // scattered motifs of two colours and sizes
      const double cu = std::floor(u / p), cv = std::floor(v / p);
      for (int di = -1; di <= 1; ++di)
        for (int dj = -1; dj <= 1; ++dj) {
          const int64_t i = static_cast<int64_t>(cu) + di, j = static_cast<int64_t>(cv) + dj;
          if (hash01(m.key, i, j) < 0.35) continue;
          const double ou = (static_cast<double>(i) + hash01(m.key + 1, i, j)) * p;
          const double ov = (static_cast<double>(j) + hash01(m.key + 2, i, j)) * p;
          const double r = p * (0.2 + 0.35 * hash01(m.key + 3, i, j));
          if ((u - ou) * (u - ou) + (v - ov) * (v - ov) < r * r) c = hash01(m.key + 4, i, j) < 0.5 ? m.b : m.c;
        }
      break;
    }
  }
  // A faint weave so that flat areas are not perfectly flat.
  const double grain = 0.04 * (hash01(m.key + 5, static_cast<int64_t>(std::floor(u * 400)),
                                      static_cast<int64_t>(std::floor(v * 400))) -
                               0.5);
  return scaled(c, 1 + grain);
}

Look sample_look(Rng& rng, double arm, double leg) {
  Look l;
  static const std::vector<Rgbf> tones = {rgb(255, 224, 196), rgb(241, 194, 160), rgb(224, 172, 130),
                                          rgb(198, 134, 90),  rgb(160, 100, 65),  rgb(110, 68, 45),
                                          rgb(75, 45, 35)};
  const double t = rng.uniform() * static_cast<double>(tones.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), tones.size() - 2);
  l.skin = jitter(rng, mix(tones[i], tones[i + 1], t - static_cast<double>(i)), 0.03);
  static const std::vector<Rgbf> hair = {rgb(22, 18, 16),   rgb(55, 38, 26),   rgb(105, 72, 44),
                                         rgb(205, 175, 115), rgb(150, 62, 30), rgb(175, 175, 172)};
  l.hair = rng.chance(0.08) ? from_hsv(rng.uniform(), 0.7, 0.8)
                            : jitter(rng, hair[rng.weighted({0.35, 0.25, 0.15, 0.1, 0.07, 0.08})], 0.03);
  l.hair_style = static_cast<Hair>(rng.weighted({0.4, 0.35, 0.1, 0.15}));
  l.eyes = rgb(30, 22, 20);
  l.lips = mix(l.skin, rgb(150, 50, 60), 0.45);
  l.shirt = sample_material(rng, 0.6);
  l.pants = sample_material(rng, 0.3);
  l.shoes = sample_material(rng, 0.0);
  l.shoes.a = scaled(l.shoes.a, 0.6);
  const size_t sleeve = rng.weighted({0.15, 0.45, 0.4});  // none, short, long
  l.sleeve = sleeve == 0 ? 0.02 * arm : sleeve == 1 ? rng.uniform(0.2, 0.4) * arm : arm * 1.2;
  const size_t trouser = rng.weighted({0.3, 0.15, 0.55});  // shorts, three-quarter, long
  l.trouser = trouser == 0 ? rng.uniform(0.25, 0.45) * leg : trouser == 1 ? rng.uniform(0.6, 0.8) * leg : leg * 1.2;
  return l;
}

Rgbf head_colour(const Look& look, double t, double az) {
  const double back = 0.5 - 0.5 * std::cos(az);  // 0 at the face, 1 at the back
  double hairline = 2;                             // above the crown: no hair
  switch (look.hair_style) {
    case Hair::short_cut: hairline = 0.8 - 0.45 * back; break;
    case Hair::long_hair: hairline = 0.78 - 0.7 * back * back - 0.25 * back; break;
    case Hair::shaved: hairline = 0.9 - 0.3 * back; break;
    case Hair::bun: hairline = 0.8 - 0.5 * back; break;
  }
  if (t > hairline) return look.hair_style == Hair::shaved ? mix(look.skin, look.hair, 0.55) : look.hair;
  if (look.hair_style == Hair::bun && t > 0.92 && back > 0.3) return scaled(look.hair, 0.85);
  const double a = std::fabs(az);
  if (a < 1.2) {
    // Eyes, brows and mouth, sized in head heights and radians.
    const double de = (t - 0.53) / 0.05, da = (a - 0.36) / 0.13;
    if (de * de + da * da < 1) return look.eyes;
    if (std::fabs(t - 0.62) < 0.018 && a > 0.18 && a < 0.55) return scaled(look.hair, 0.9);
    if (std::fabs(t - 0.3) < 0.022 && a < 0.22) return look.lips;
  }
  return look.skin;
}

}  // namespace ma::synth
