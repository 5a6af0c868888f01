// MagicAnimate's image-video joint training (§3.4): each sample draws r ~ U(0,1)
// and picks what the model is asked to reconstruct.
//   Stage 1 (no temporal layers): r <= tau0 -> the reference frame itself with
//     its own pose (reconstruction); else one frame i != ref of the same video.
//   Stage 2 (motion modules): r <= tau1 -> one image, i = ref; tau1 < r <= tau2
//     -> one image, i != ref; r > tau2 -> a K-frame clip.
// The paper publishes no values; our defaults (kDefaultTau*) are documented in
// the README. Every draw comes from a counter-based stream (seed, step, slot),
// so a sample is a pure function of where it sits in the run: resuming needs
// no saved sampler state, and the data order is reproducible.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ma::data {

// Chosen, not published: 10% reconstruction in stage 1; in stage 2 10% of the
// samples stay single images (5% the reference, 5% another frame), so the
// spatial layers keep seeing images while 90% of the steps train motion.
constexpr double kDefaultTau0 = 0.1;
constexpr double kDefaultTau1 = 0.05;
constexpr double kDefaultTau2 = 0.1;
// Random crop: the window is scale x the largest window of the training
// aspect, scale ~ U(kMinCropScale, 1), placed uniformly in the free room.
constexpr double kMinCropScale = 0.9;

enum class SampleKind { kRef, kImage, kVideo };
const char* sample_kind_name(SampleKind k);  // "ref", "image", "video"

struct SamplerOptions {
  int stage = 1;
  int64_t frames = 16;  // K, stage 2 clips
  double tau0 = kDefaultTau0, tau1 = kDefaultTau1, tau2 = kDefaultTau2;
  double ref_drop = 0.1;  // probability of training without the reference bank
  double min_crop_scale = kMinCropScale;
};

struct SamplePlan {
  size_t clip = 0;
  int64_t ref = 0;                // reference frame index
  std::vector<int64_t> frames;    // target frame indices (1, or K consecutive)
  SampleKind kind = SampleKind::kImage;
  bool ref_dropped = false;
  Crop crop;                      // shared by frames, poses and reference
};

// Throws ma::Error when the taus are outside [0, 1] or tau1 > tau2, K < 1,
// or ref_drop is outside [0, 1].
void validate(const SamplerOptions& o);

// The stream for one sample: `slot` numbers the samples within a step (batch x accumulation).
std::mt19937_64 sample_stream(uint64_t seed, int64_t step, int64_t slot);

// Draws one sample. Clips shorter than K give clips of all their frames
// (the motion modules take any length up to their position limit); a
// one-frame video can only give i = ref.
SamplePlan draw_sample(const SamplerOptions& o, const std::vector<int64_t>& clip_lengths, std::mt19937_64& rng);

}  // namespace ma::data
