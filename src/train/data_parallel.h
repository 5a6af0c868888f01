// Data-parallel training: what the Trainer does differently on a world of
// several ranks (one process: every call is the identity or trivial).
//
// The data order rule: an optimiser step trains N = world x batch x
// grad_accum samples, numbered by their global slot 0..N-1; the sample of
// (step, slot) -- clip, frames, tau branch, crop, reference drop, timestep,
// noise -- comes only from (seed, step, slot), i.e. from the seed and the
// global sample index step*N + slot. Rank r trains, in micro-step a, the
// slots (a*world + r)*batch + j, j < batch. So the global batch is the same
// whatever the world size, and a checkpoint resumes under another world size
// as long as N stays the same (the Trainer refuses another N).
//
// Each rank weights its samples' losses by 1 / N and the gradients are
// summed over the ranks: the one-process mean over all N samples (the same as
// DDP's local mean then divide by world, but every sample's backward is then
// the very computation one process does, so 2 ranks with --grad-accum 1 are
// bit-identical to one process; more ranks or accumulation only regroup the
// sum: float rounding). A parameter that got
// a gradient on any rank gets one on every rank (zeros where it had none), one
// with none anywhere stays without (AdamW then skips it, as one process
// would). Clipping by the global norm follows the all-reduce.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "train/optimizer.h"

namespace ma::train {

// DDP's default bucket size.
constexpr int64_t kGradientBucketBytes = int64_t{25} << 20;

class DataParallel {
 public:
  explicit DataParallel(std::shared_ptr<dist::Communicator> comm = nullptr);  // null: one process

  int rank() const { return comm_->rank(); }
  int world() const { return comm_->world(); }
  bool leader() const { return rank() == 0; }  // writes checkpoints, logs, validation videos

  // The global slots this rank trains in one optimiser step, in the order it
  // trains them (see the rule above).
  std::vector<int64_t> slots(int64_t batch, int64_t grad_accum) const;
  int64_t samples_per_step(int64_t batch, int64_t grad_accum) const { return world() * batch * grad_accum; }

  // Rank 0's values of the parameters on every rank (as DDP does at the start).
  void broadcast_parameters(const std::vector<NamedParameter>& params);
  // The accumulated gradients summed over the ranks (the losses carry 1/N),
  // in buckets of kGradientBucketBytes. Returns the bytes all-reduced (0 on one process).
  int64_t reduce_gradients(const std::vector<NamedParameter>& params);
  // The sum over the ranks of one number (the step's loss).
  double sum(double local);
  // True on every rank when `local` is true on any (Ctrl-C seen by one rank).
  bool any(bool local);
  void barrier();
  // Every rank's digest of the parameters (FNV-1a over their bytes, hex), in
  // rank order; throws ma::Error naming the step when they differ.
  std::vector<std::string> check_in_sync(const std::vector<NamedParameter>& params, int64_t step);

 private:
  std::shared_ptr<dist::Communicator> comm_;
};

}  // namespace ma::train
