// The synthetic world's random numbers: SplitMix64 with our own float and
// range mappings, so a seed gives the same dataset with every standard library
// (std::uniform_*_distribution are implementation-defined).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ma::synth {

// Mixes a 64-bit value (SplitMix64's finaliser): seeds for sub-streams.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(mix64(seed ^ 0x6a09e667f3bcc909ULL)) {}

  // An independent stream for `key` (a clip, a material), fixed by this one's seed.
  Rng fork(uint64_t key) const { return Rng(mix64(state_ + 0x9e3779b97f4a7c15ULL * (key + 1))); }

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    return mix64(z);
  }
  // [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // 0 .. n-1 (n > 0).
  int below(int n) { return static_cast<int>(uniform() * n); }
  bool chance(double p) { return uniform() < p; }
  // Index drawn with the given relative weights.
  size_t weighted(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double r = uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  uint64_t state_;
};

// A smooth deterministic value in [-1, 1] at position x (1-D value noise with
// cosine interpolation) for idle sway and jitter; `key` picks the curve.
inline double smooth_noise(uint64_t key, double x) {
  auto lattice = [key](int64_t i) {
    return static_cast<double>(mix64(key * 0x100000001b3ULL + static_cast<uint64_t>(i)) >> 11) *
               (2.0 / 9007199254740992.0) -
           1.0;
  };
  const double fl = std::floor(x);
  const int64_t i = static_cast<int64_t>(fl);
  const double f = x - fl;
  const double w = (1 - std::cos(f * 3.14159265358979323846)) * 0.5;
  return lattice(i) * (1 - w) + lattice(i + 1) * w;
}

}  // namespace ma::synth
