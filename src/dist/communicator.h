// The collectives the engine needs from a group of processes, behind one
// interface: a LocalCommunicator for a single process, and PyTorch's own
// c10d engine (TCPStore rendezvous; Gloo on CPU, NCCL for CUDA tensors where
// libtorch has it) for several. The c10d headers stay inside src/dist.
#pragma once
#include <ATen/ATen.h>

#include <chrono>
#include <memory>
#include <vector>

#include "dist/launch_env.h"

namespace ma::dist {

// --dist-timeout's default: how long a rank waits for a missing peer
// (rendezvous or any collective) before it gives up with an error.
constexpr int kDefaultTimeoutSeconds = 300;

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  // In place, on every rank: the element-wise sum over all ranks.
  virtual void allreduce_sum(at::Tensor& tensor) = 0;
  // In place: every rank receives `root`'s tensor.
  virtual void broadcast(at::Tensor& tensor, int root = 0) = 0;
  virtual void barrier() = 0;
  // Every failure (a peer that died, a timeout) throws ma::Error with one
  // line that starts "distributed:" and names this rank.
};

// World of one: every collective is the identity.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  void allreduce_sum(at::Tensor&) override {}
  void broadcast(at::Tensor&, int) override {}
  void barrier() override {}
};

struct ConnectOptions {
  std::chrono::seconds timeout{kDefaultTimeoutSeconds};
  // Where the tensors live: CUDA selects NCCL (when built with it) on GPU
  // `env.local_rank`; anything else Gloo.
  at::Device device = at::kCPU;
};

// A LocalCommunicator when env.world is 1, else the c10d group: rank 0
// serves the TCPStore at master_addr:master_port, every rank joins it and the
// group connects; a rank that has not arrived after `timeout` ends each of
// them with ma::Error.
std::unique_ptr<Communicator> connect(const LaunchEnv& env, const ConnectOptions& options = {});

// The gradients of a data-parallel step averaged over the ranks, in place:
// packed into flat buckets of at most `bucket_bytes` (one collective each,
// per dtype and device), all-reduced and divided by the world size (or only
// summed when `average` is false: a caller that already weighted each rank's
// losses by 1/world, which keeps a world of 2 bit-identical to one process).
// Undefined tensors (parameters without a gradient) are skipped; the same
// list must be passed on every rank.
void allreduce_gradients(std::vector<at::Tensor> grads, Communicator& comm,
                         int64_t bucket_bytes = int64_t{25} << 20, bool average = true);

}  // namespace ma::dist
