#include "dist/communicator.h"

#include <sstream>
#include <string>
#include <thread>

#include "dist/c10d_compat.h"
#include "util/error.h"

namespace ma::dist {
namespace {

// c10d's messages carry a C++ backtrace after the first line: keep the line.
std::string first_line(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10 ? c10->what_without_backtrace() : e.what();
  const size_t nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

[[noreturn]] void fail(int rank, int world, const std::string& what, const std::string& detail) {
  throw Error("distributed: rank " + std::to_string(rank) + " of " + std::to_string(world) + ": " + what +
              " failed (a peer died, or did not answer within --dist-timeout): " + detail);
}

#ifdef MA_WITH_GLOO
// One communicator over a c10d group of either backend (their collective
// calls are the same).
template <class Group>
class C10dCommunicator : public Communicator {
 public:
  C10dCommunicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group, int rank, int world,
                   std::chrono::milliseconds timeout)
      : store_(std::move(store)), group_(std::move(group)), rank_(rank), world_(world), timeout_(timeout) {}

  int rank() const override { return rank_; }
  int world() const override { return world_; }

  void allreduce_sum(at::Tensor& tensor) override {
    on_dense(tensor, "all-reduce", [&](std::vector<at::Tensor>& v) {
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp::SUM;
      o.timeout = timeout_;
      return group_->allreduce(v, o);
    });
  }

  void broadcast(at::Tensor& tensor, int root) override {
    on_dense(tensor, "broadcast", [&](std::vector<at::Tensor>& v) {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      o.timeout = timeout_;
      return group_->broadcast(v, o);
    });
  }

  void barrier() override {
    try {
      c10d::BarrierOptions o;
      o.timeout = timeout_;
      group_->barrier(o)->wait(timeout_);
    } catch (const std::exception& e) {
      fail(rank_, world_, "barrier", first_line(e));
    }
  }

 private:
  // The backends want one contiguous tensor: reduce a copy when needed.
  template <class Call>
  void on_dense(at::Tensor& tensor, const char* what, Call call) {
    try {
      std::vector<at::Tensor> v{tensor.is_contiguous() ? tensor : tensor.contiguous()};
      call(v)->wait(timeout_);
      if (!v[0].is_same(tensor)) tensor.copy_(v[0]);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(rank_, world_, what, first_line(e));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;  // outlives the group, which uses it to rendezvous
  c10::intrusive_ptr<Group> group_;
  int rank_, world_;
  std::chrono::milliseconds timeout_;
};

// Every rank counts itself in on the store, then waits until all have: one
// clear error when some never come, and the group connects only then.
void wait_for_everyone(c10d::Store& store, const LaunchEnv& env, std::chrono::steady_clock::time_point deadline,
                       std::chrono::seconds timeout) {
  const std::string key = "magicanimate/arrived";
  int64_t arrived = store.add(key, 1);
  while (arrived < env.world) {
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("distributed: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world) + ": only " +
                  std::to_string(arrived) + " of " + std::to_string(env.world) + " processes arrived at " +
                  env.master_addr + ":" + std::to_string(env.master_port) + " within --dist-timeout (" +
                  std::to_string(timeout.count()) + " s)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    arrived = store.add(key, 0);
  }
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }
#endif

}  // namespace

std::unique_ptr<Communicator> connect(const LaunchEnv& env, const ConnectOptions& options) {
  if (env.world <= 1) return std::make_unique<LocalCommunicator>();
  if (options.timeout.count() <= 0) throw Error("--dist-timeout must be at least 1 second");
#ifdef MA_WITH_GLOO
  const std::chrono::milliseconds timeout = options.timeout;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = compat::make_store(env.master_addr, env.master_port, env.rank == 0, env.world, timeout);
    wait_for_everyone(*store, env, deadline, options.timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(env.rank, env.world,
         "rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port) + " (" + env.launcher + ")",
         first_line(e));
  }
  try {
    if (options.device.is_cuda()) {
#ifdef MA_WITH_NCCL
      return std::make_unique<C10dCommunicator<c10d::ProcessGroupNCCL>>(
          store, compat::make_nccl(store, env.rank, env.world, timeout), env.rank, env.world, timeout);
#else
      throw Error("distributed: this build has no NCCL (libtorch without CUDA); CUDA tensors cannot be reduced");
#endif
    }
    return std::make_unique<C10dCommunicator<c10d::ProcessGroupGloo>>(
        store, compat::make_gloo(store, env.rank, env.world, timeout, is_loopback(env.master_addr)), env.rank,
        env.world, timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(env.rank, env.world, "connecting the Gloo group", first_line(e));
  }
#else
  throw Error("distributed: this build has no c10d Gloo (install libgloo-dev and rebuild) for a world of " +
              std::to_string(env.world));
#endif
}

void allreduce_gradients(std::vector<at::Tensor> grads, Communicator& comm, int64_t bucket_bytes, bool average) {
  if (comm.world() == 1) return;
  const double scale = 1.0 / comm.world();
  // Buckets of one dtype and device, in list order (the same on every rank,
  // so the collectives pair up).
  std::vector<at::Tensor> bucket;
  int64_t bytes = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    std::vector<at::Tensor> flat;
    for (const at::Tensor& g : bucket) flat.push_back(g.reshape({-1}));
    at::Tensor packed = at::cat(flat);
    comm.allreduce_sum(packed);
    if (average) packed.mul_(scale);
    int64_t at = 0;
    for (at::Tensor& g : bucket) {
      g.copy_(packed.slice(0, at, at + g.numel()).view(g.sizes()));
      at += g.numel();
    }
    bucket.clear();
    bytes = 0;
  };
  for (at::Tensor& g : grads) {
    if (!g.defined()) continue;
    const int64_t size = g.numel() * static_cast<int64_t>(g.element_size());
    if (!bucket.empty() && (bucket.front().scalar_type() != g.scalar_type() ||
                            bucket.front().device() != g.device() || bytes + size > bucket_bytes))
      flush();
    bucket.push_back(g);
    bytes += size;
  }
  flush();
}

}  // namespace ma::dist
