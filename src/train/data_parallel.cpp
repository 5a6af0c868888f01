#include "train/data_parallel.h"

#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace ma::train {
namespace {

// FNV-1a over 64-bit words (then the tail bytes): a digest of the exact bits,
// fast enough to run on every save.
uint64_t fnv1a(uint64_t h, const uint8_t* p, size_t n) {
  constexpr uint64_t kPrime = 0x100000001b3ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * kPrime;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * kPrime;
  return h;
}

std::string hex(uint64_t v) {
  char s[17];
  std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(v));
  return s;
}

}  // namespace

DataParallel::DataParallel(std::shared_ptr<dist::Communicator> comm)
    : comm_(comm ? std::move(comm) : std::make_shared<dist::LocalCommunicator>()) {}

std::vector<int64_t> DataParallel::slots(int64_t batch, int64_t grad_accum) const {
  std::vector<int64_t> out;
  for (int64_t a = 0; a < grad_accum; ++a)
    for (int64_t j = 0; j < batch; ++j) out.push_back((a * world() + rank()) * batch + j);
  return out;
}

void DataParallel::broadcast_parameters(const std::vector<NamedParameter>& params) {
  if (world() == 1) return;
  for (const NamedParameter& p : params) {
    at::Tensor data = p.tensor.detach();  // the same storage, outside autograd
    comm_->broadcast(data, 0);
  }
}

int64_t DataParallel::reduce_gradients(const std::vector<NamedParameter>& params) {
  if (world() == 1) return 0;
  // Which parameters got a gradient on some rank: those take part everywhere,
  // so every rank packs the same buckets.
  at::Tensor defined = at::zeros({static_cast<int64_t>(params.size())}, at::kInt);
  auto flag = defined.accessor<int32_t, 1>();
  for (size_t i = 0; i < params.size(); ++i) flag[static_cast<int64_t>(i)] = params[i].tensor.grad().defined();
  comm_->allreduce_sum(defined);
  flag = defined.accessor<int32_t, 1>();
  std::vector<at::Tensor> grads;
  int64_t bytes = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (flag[static_cast<int64_t>(i)] == 0) continue;
    at::Tensor p = params[i].tensor;
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  dist::allreduce_gradients(grads, *comm_, kGradientBucketBytes, /*average=*/false);  // the losses carry 1/N
  return bytes;
}

double DataParallel::sum(double local) {
  if (world() == 1) return local;
  at::Tensor t = at::tensor({local}, at::kDouble);
  comm_->allreduce_sum(t);
  return t.item<double>();
}

bool DataParallel::any(bool local) {
  if (world() == 1) return local;
  at::Tensor t = at::tensor({static_cast<int32_t>(local)}, at::kInt);
  comm_->allreduce_sum(t);
  return t.item<int32_t>() > 0;
}

void DataParallel::barrier() {
  if (world() > 1) comm_->barrier();
}

std::vector<std::string> DataParallel::check_in_sync(const std::vector<NamedParameter>& params, int64_t step) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const NamedParameter& p : params) {
    const at::Tensor t = p.tensor.detach().cpu().contiguous();
    h = fnv1a(h, static_cast<const uint8_t*>(t.data_ptr()), t.numel() * t.element_size());
  }
  // Each rank fills its own entry; the sum gathers them all.
  at::Tensor all = at::zeros({world()}, at::kLong);
  all[rank()].fill_(static_cast<int64_t>(h));
  comm_->allreduce_sum(all);
  std::vector<std::string> out;
  for (int r = 0; r < world(); ++r) out.push_back(hex(static_cast<uint64_t>(all[r].item<int64_t>())));
  for (int r = 1; r < world(); ++r)
    if (out[static_cast<size_t>(r)] != out[0])
      throw Error("distributed: the weights of rank " + std::to_string(r) + " differ from rank 0's at step " +
                  std::to_string(step) + " (digest " + out[static_cast<size_t>(r)] + " vs " + out[0] + ")");
  return out;
}

}  // namespace ma::train
