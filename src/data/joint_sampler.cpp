#include "data/joint_sampler.h"

#include <algorithm>

#include "util/error.h"

namespace ma::data {
namespace {

// Our own mappings from raw 64-bit draws (the std distributions differ
// between standard libraries, which would change the data order).
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
int64_t below(std::mt19937_64& rng, int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); }

// A frame index != ref in [0, n), n >= 2.
int64_t other_than(std::mt19937_64& rng, int64_t n, int64_t ref) {
  const int64_t i = below(rng, n - 1);
  return i >= ref ? i + 1 : i;
}

void check_unit(double v, const char* name) {
  if (!(v >= 0.0 && v <= 1.0)) throw Error(std::string(name) + " must be in [0, 1], got " + std::to_string(v));
}

}  // namespace

const char* sample_kind_name(SampleKind k) {
  switch (k) {
    case SampleKind::kRef: return "ref";
    case SampleKind::kImage: return "image";
    case SampleKind::kVideo: return "video";
  }
  return "?";
}

void validate(const SamplerOptions& o) {
  if (o.stage != 1 && o.stage != 2) throw Error("stage must be 1 or 2, got " + std::to_string(o.stage));
  check_unit(o.tau0, "--tau0");
  check_unit(o.tau1, "--tau1");
  check_unit(o.tau2, "--tau2");
  check_unit(o.ref_drop, "--ref-drop");
  if (o.tau1 > o.tau2) throw Error("--tau1 must not exceed --tau2");
  if (o.frames < 1) throw Error("--frames must be at least 1");
  if (!(o.min_crop_scale > 0.0 && o.min_crop_scale <= 1.0)) throw Error("crop scale must be in (0, 1]");
}

std::mt19937_64 sample_stream(uint64_t seed, int64_t step, int64_t slot) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(step),
                    static_cast<uint32_t>(static_cast<uint64_t>(step) >> 32), static_cast<uint32_t>(slot), 0x6d61u};
  return std::mt19937_64(seq);
}

SamplePlan draw_sample(const SamplerOptions& o, const std::vector<int64_t>& clip_lengths, std::mt19937_64& rng) {
  if (clip_lengths.empty()) throw Error("no clips to sample from");
  SamplePlan s;
  s.clip = static_cast<size_t>(below(rng, static_cast<int64_t>(clip_lengths.size())));
  const int64_t n = clip_lengths[s.clip];
  s.ref = below(rng, n);
  const double r = uniform(rng);
  if (o.stage == 1) {
    s.kind = r <= o.tau0 || n < 2 ? SampleKind::kRef : SampleKind::kImage;
  } else {
    s.kind = r <= o.tau1 || n < 2 ? SampleKind::kRef : r <= o.tau2 ? SampleKind::kImage : SampleKind::kVideo;
  }
  if (s.kind == SampleKind::kRef) {
    s.frames = {s.ref};
  } else if (s.kind == SampleKind::kImage) {
    s.frames = {other_than(rng, n, s.ref)};
  } else {
    const int64_t k = std::min(o.frames, n);
    const int64_t start = below(rng, n - k + 1);
    for (int64_t i = 0; i < k; ++i) s.frames.push_back(start + i);
  }
  s.ref_dropped = uniform(rng) < o.ref_drop;
  s.crop.scale = o.min_crop_scale + (1.0 - o.min_crop_scale) * uniform(rng);
  s.crop.x = uniform(rng);
  s.crop.y = uniform(rng);
  return s;
}

}  // namespace ma::data
