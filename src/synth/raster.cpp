// Per sample: the nearest surface wins. Each part's surface is a half
// cylinder over its 2-D shape (the bulge towards the camera), which gives the
// depth for the test, the normal for the shading and for the front/back
// choice of DensePose chart, and the coordinates for the cloth pattern.
#include "synth/raster.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "synth/densepose_palette.h"

namespace ma::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Signed distance to a capsule with radius r1 around (0, 0) and r2 around
// (0, h), in its own frame (x across, y along); x >= 0 (symmetric).
double uneven_capsule(double x, double y, double r1, double r2, double h) {
  if (h < std::fabs(r1 - r2) + 1e-6) return std::hypot(x, y - (r1 >= r2 ? 0 : h)) - std::max(r1, r2);
  const double b = (r1 - r2) / h, a = std::sqrt(1 - b * b);
  const double k = -b * x + a * y;
  if (k < 0) return std::hypot(x, y) - r1;
  if (k > a * h) return std::hypot(x, y - h) - r2;
  return a * x + b * y - r1;
}

// Signed distance to an isosceles trapezoid centred at the origin: half-width
// r1 at y = -he, r2 at y = +he; x >= 0.
double trapezoid(double x, double y, double r1, double r2, double he) {
  const double k1x = r2, k1y = he, k2x = r2 - r1, k2y = 2 * he;
  const double cax = x - std::min(x, y < 0 ? r1 : r2), cay = std::fabs(y) - he;
  const double k2len = k2x * k2x + k2y * k2y;
  const double f = std::clamp(((k1x - x) * k2x + (k1y - y) * k2y) / (k2len > 0 ? k2len : 1), 0.0, 1.0);
  const double cbx = x - k1x + k2x * f, cby = y - k1y + k2y * f;
  const double sgn = (cbx < 0 && cay < 0) ? -1.0 : 1.0;
  return sgn * std::sqrt(std::min(cax * cax + cay * cay, cbx * cbx + cby * cby));
}

double wrap_angle(double a) {
  a = std::fmod(a + kPi, 2 * kPi);
  if (a < 0) a += 2 * kPi;
  return a - kPi;
}

struct Samples {
  int w, h;
  std::vector<float> depth;
  std::vector<uint8_t> label;
  std::vector<Rgbf> colour;
};

// Light from the upper left, in front of the figure (x right, y down, z away).
constexpr double kLx = -0.36, kLy = -0.52, kLz = -0.775;

void draw(const Primitive& pr, const Look& look, int ss, Samples& out) {
  double dx = pr.bx - pr.ax, dy = pr.by - pr.ay;
  const double h = std::hypot(dx, dy);
  if (h > 1e-9) dx /= h, dy /= h;
  else dx = 0, dy = 1;
  const double nx = -dy, ny = dx;  // lateral axis: lat = q . n
  const double reach = std::max(pr.ra, pr.rb) + 1;
  const int x0 = std::max(0, static_cast<int>(std::floor((std::min(pr.ax, pr.bx) - reach) * ss)));
  const int x1 = std::min(out.w - 1, static_cast<int>(std::ceil((std::max(pr.ax, pr.bx) + reach) * ss)));
  const int y0 = std::max(0, static_cast<int>(std::floor((std::min(pr.ay, pr.by) - reach) * ss)));
  const int y1 = std::min(out.h - 1, static_cast<int>(std::ceil((std::max(pr.ay, pr.by) + reach) * ss)));
  const double head_len = h + pr.ra + pr.rb;
  for (int sy = y0; sy <= y1; ++sy)
    for (int sx = x0; sx <= x1; ++sx) {
      const double qx = (sx + 0.5) / ss - pr.ax, qy = (sy + 0.5) / ss - pr.ay;
      const double along = qx * dx + qy * dy, lat = qx * nx + qy * ny;
      const double sd = pr.shape == Shape::capsule
                            ? uneven_capsule(std::fabs(lat), along, pr.ra, pr.rb, h)
                            : trapezoid(std::fabs(lat), along - h / 2, pr.ra - pr.rounding, pr.rb - pr.rounding, h / 2) -
                                  pr.rounding;
      if (sd > 0) continue;
      const double t = h > 1e-9 ? std::clamp(along / h, 0.0, 1.0) : 0.0;
      const double rt = std::max(1e-6, pr.ra + (pr.rb - pr.ra) * t);
      const double s = std::clamp(lat / rt, -1.0, 1.0);
      const double c = std::sqrt(1 - s * s);
      const double z = pr.za + (pr.zb - pr.za) * t - pr.bulge * rt * c;
      const size_t i = static_cast<size_t>(sy) * static_cast<size_t>(out.w) + static_cast<size_t>(sx);
      if (z >= out.depth[i]) continue;
      // The surface normal's direction around the vertical (0 = towards the
      // camera, + = image right), then around the body (0 = the way it faces).
      const double psi = std::atan2(s * nx, c);
      const double az = wrap_angle(psi - pr.facing);
      int label;
      if (pr.left_right) label = std::sin(az) < 0 ? pr.front : pr.back;
      else label = std::cos(az - pr.front_centre) >= 0 ? pr.front : pr.back;
      Rgbf colour;
      const double u = pr.u0 + (pr.u1 - pr.u0) * (h > 1e-9 ? along / h : 0.0);
      Surface surface = pr.surface;
      if (surface != Surface::head && u >= pr.cover) surface = Surface::skin;
      switch (surface) {
        case Surface::head: colour = head_colour(look, std::clamp((along + pr.ra) / head_len, 0.0, 1.0), az); break;
        case Surface::skin: colour = look.skin; break;
        case Surface::shirt: colour = material_colour(look.shirt, u, az * pr.girth); break;
        case Surface::pants: colour = material_colour(look.pants, u, az * pr.girth); break;
        case Surface::shoes: colour = material_colour(look.shoes, u, az * pr.girth); break;
      }
      // Lambert shading of the half-cylinder normal (s * n across, c towards the camera).
      const double lambert = std::max(0.0, s * nx * kLx + s * ny * kLy - c * kLz);
      colour = scaled(colour, 0.42 + 0.62 * lambert);
      out.depth[i] = static_cast<float>(z);
      out.label[i] = static_cast<uint8_t>(label);
      out.colour[i] = colour;
    }
}

uint8_t to_byte(float v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 1.f) * 255.f)); }

}  // namespace

Frame rasterise(const std::vector<Primitive>& parts, const Look& look, const std::vector<Rgbf>& background,
                int width, int height, int ss, const Shadow& shadow) {
  Samples smp{width * ss, height * ss, {}, {}, background};
  const size_t n = static_cast<size_t>(smp.w) * static_cast<size_t>(smp.h);
  smp.depth.assign(n, std::numeric_limits<float>::infinity());
  smp.label.assign(n, 0);
  if (shadow.strength > 0) {
    for (int sy = 0; sy < smp.h; ++sy)
      for (int sx = 0; sx < smp.w; ++sx) {
        const double ex = ((sx + 0.5) / ss - shadow.x) / shadow.rx, ey = ((sy + 0.5) / ss - shadow.y) / shadow.ry;
        const double d2 = ex * ex + ey * ey;
        if (d2 < 1) {
          Rgbf& c = smp.colour[static_cast<size_t>(sy) * static_cast<size_t>(smp.w) + static_cast<size_t>(sx)];
          c = scaled(c, 1 - shadow.strength * (1 - d2) * (1 - d2));
        }
      }
  }
  for (const Primitive& pr : parts) draw(pr, look, ss, smp);

  Frame f;
  f.width = width, f.height = height;
  f.image.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  f.labels.resize(static_cast<size_t>(width) * static_cast<size_t>(height));
  const float inv = 1.f / static_cast<float>(ss * ss);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      float r = 0, g = 0, b = 0;
      std::array<int, kPartCount> votes{};
      for (int j = 0; j < ss; ++j)
        for (int i = 0; i < ss; ++i) {
          const size_t k = static_cast<size_t>(y * ss + j) * static_cast<size_t>(smp.w) + static_cast<size_t>(x * ss + i);
          r += smp.colour[k].r, g += smp.colour[k].g, b += smp.colour[k].b;
          ++votes[smp.label[k]];
        }
      const size_t p = static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x);
      f.image[3 * p] = to_byte(r * inv), f.image[3 * p + 1] = to_byte(g * inv), f.image[3 * p + 2] = to_byte(b * inv);
      // The most frequent label; a tie goes to the lower index (background first).
      f.labels[p] = static_cast<uint8_t>(std::max_element(votes.begin(), votes.end()) - votes.begin());
    }
  return f;
}

}  // namespace ma::synth
