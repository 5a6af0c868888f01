#include "bench/flop_counter.h"

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace ma::bench {

struct FlopCounterAccess {
  static FlopCounts& counts(FlopCounter& c) { return c.counts_; }
};

namespace {

thread_local FlopCounter* tl_counter = nullptr;
thread_local int tl_depth = 0;      // counted ops currently running on this thread
thread_local int tl_any_depth = 0;  // ops of any kind currently running on this thread

enum class Kind { kNone, kConv, kConvBackward, kMatmul, kBatchedMatmul, kFusedAttention };

Kind kind_of(const char* name) {
  if (std::strncmp(name, "aten::", 6) != 0) return Kind::kNone;
  const char* op = name + 6;
  if (!std::strcmp(op, "convolution") || !std::strcmp(op, "_convolution") || !std::strcmp(op, "conv2d"))
    return Kind::kConv;
  if (!std::strcmp(op, "convolution_backward")) return Kind::kConvBackward;
  // aten::linear is counted as a whole: how it reaches its GEMM differs by
  // version (libtorch 2.x sends a non-contiguous 3-D input through bmm, which
  // would otherwise be booked as attention).
  if (!std::strcmp(op, "linear") || !std::strcmp(op, "mm") || !std::strcmp(op, "addmm")) return Kind::kMatmul;
  if (!std::strcmp(op, "bmm") || !std::strcmp(op, "baddbmm")) return Kind::kBatchedMatmul;
  if (!std::strcmp(op, "scaled_dot_product_attention")) return Kind::kFusedAttention;
  return Kind::kNone;
}

// Passed from start to end: what the end callback still has to count.
struct Pending : at::ObserverContext {
  Kind kind = Kind::kNone;       // set for the outermost counted op only
  bool counted = false;          // a counted op (it holds a level of tl_depth)
  bool outermost = false;        // no op below it on the stack: its time is booked by name
  double macs_per_output = 0;    // convolution: (C_in / groups) * kh * kw
  std::chrono::steady_clock::time_point start;
};

const at::Tensor* tensor_arg(const at::RecordFunction& fn, size_t i) {
  auto inputs = fn.inputs();
  if (i >= inputs.size() || !inputs[i].isTensor()) return nullptr;
  return &inputs[i].toTensor();
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (!tl_counter) return nullptr;
  auto pending = std::make_unique<Pending>();
  pending->outermost = tl_any_depth++ == 0;
  const Kind kind = kind_of(fn.name());
  pending->counted = kind != Kind::kNone;
  if (!pending->counted || tl_depth++ > 0) {  // not counted, or inside a counted op: its parent counted it
    pending->start = std::chrono::steady_clock::now();
    return pending;
  }
  pending->kind = kind;
  FlopCounts& c = FlopCounterAccess::counts(*tl_counter);
  switch (kind) {
    case Kind::kConv: {
      const at::Tensor* w = tensor_arg(fn, 1);
      if (w && w->dim() >= 3) {
        double per = 1;
        for (int64_t d = 1; d < w->dim(); ++d) per *= static_cast<double>(w->size(d));
        pending->macs_per_output = per;  // counted in on_end from the output size
      }
      break;
    }
    case Kind::kConvBackward: {
      // convolution_backward(grad_output, input, weight, ..., output_mask):
      // the input and the weight gradient each cost what the forward did.
      const at::Tensor *grad_out = tensor_arg(fn, 0), *w = tensor_arg(fn, 2);
      const auto inputs = fn.inputs();
      if (grad_out && w && w->dim() >= 3 && inputs.size() > 10 && inputs[10].isBoolList()) {
        double per = 1;
        for (int64_t d = 1; d < w->dim(); ++d) per *= static_cast<double>(w->size(d));
        const auto mask = inputs[10].toBoolList();
        const double passes = (mask.get(0) ? 1.0 : 0.0) + (mask.get(1) ? 1.0 : 0.0);
        c.conv += passes * 2.0 * static_cast<double>(grad_out->numel()) * per;
      }
      break;
    }
    case Kind::kMatmul: {  // linear(x, w[out, in]) / mm(a, b) / addmm(bias, a, b)
      if (std::strcmp(fn.name(), "aten::linear") == 0) {
        const at::Tensor *x = tensor_arg(fn, 0), *w = tensor_arg(fn, 1);
        if (x && w && w->dim() == 2)
          c.linear += 2.0 * static_cast<double>(x->numel()) * static_cast<double>(w->size(0));
        break;
      }
      const size_t first = std::strcmp(fn.name(), "aten::addmm") == 0 ? 1 : 0;
      const at::Tensor *a = tensor_arg(fn, first), *b = tensor_arg(fn, first + 1);
      if (a && b && a->dim() == 2 && b->dim() == 2)
        c.linear += 2.0 * static_cast<double>(a->size(0)) * static_cast<double>(a->size(1)) *
                    static_cast<double>(b->size(1));
      break;
    }
    case Kind::kBatchedMatmul: {  // bmm(a, b) / baddbmm(self, a, b)
      const size_t first = std::strcmp(fn.name(), "aten::baddbmm") == 0 ? 1 : 0;
      const at::Tensor *a = tensor_arg(fn, first), *b = tensor_arg(fn, first + 1);
      if (a && b && a->dim() == 3 && b->dim() == 3)
        c.attention += 2.0 * static_cast<double>(a->size(0)) * static_cast<double>(a->size(1)) *
                       static_cast<double>(a->size(2)) * static_cast<double>(b->size(2));
      break;
    }
    case Kind::kFusedAttention: {  // q [..., N, D], k [..., M, D]
      const at::Tensor *q = tensor_arg(fn, 0), *k = tensor_arg(fn, 1);
      if (q && k && q->dim() >= 2 && k->dim() >= 2)
        c.attention += 4.0 * static_cast<double>(q->numel()) * static_cast<double>(k->size(-2));
      break;
    }
    case Kind::kNone: break;
  }
  pending->start = std::chrono::steady_clock::now();
  return pending;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* ctx) {
  if (!ctx) return;
  auto* pending = static_cast<Pending*>(ctx);
  --tl_any_depth;
  if (pending->counted) --tl_depth;
  if (!tl_counter) return;
  FlopCounts& c = FlopCounterAccess::counts(*tl_counter);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pending->start).count();
  if (pending->outermost) c.op_seconds[fn.name()] += seconds;
  switch (pending->kind) {
    case Kind::kConv: {
      c.conv_s += seconds;
      const auto& outputs = fn.outputs();
      if (!outputs.empty() && outputs[0].isTensor())
        c.conv += 2.0 * static_cast<double>(outputs[0].toTensor().numel()) * pending->macs_per_output;
      break;
    }
    case Kind::kConvBackward: c.conv_s += seconds; break;
    case Kind::kMatmul: c.linear_s += seconds; break;
    case Kind::kBatchedMatmul:
    case Kind::kFusedAttention: c.attention_s += seconds; break;
    case Kind::kNone: break;
  }
}

}  // namespace

FlopCounts FlopCounts::operator-(const FlopCounts& o) const {
  FlopCounts d{conv - o.conv,     linear - o.linear,     attention - o.attention,
               conv_s - o.conv_s, linear_s - o.linear_s, attention_s - o.attention_s, op_seconds};
  for (const auto& [name, s] : o.op_seconds) d.op_seconds[name] -= s;
  return d;
}

FlopCounts FlopCounts::scaled(double k) const {
  FlopCounts d{conv * k, linear * k, attention * k, conv_s * k, linear_s * k, attention_s * k, op_seconds};
  for (auto& entry : d.op_seconds) entry.second *= k;
  return d;
}

FlopCounter::FlopCounter() {
  if (tl_counter) throw std::logic_error("FlopCounter: one counter per thread at a time");
  handle_ = at::addThreadLocalCallback(
      at::RecordFunctionCallback(&on_start, &on_end).needsInputs(true).needsOutputs(true).scopes(
          {at::RecordScope::FUNCTION}));
  tl_counter = this;
  tl_depth = tl_any_depth = 0;
}

FlopCounter::~FlopCounter() {
  at::removeCallback(handle_);
  tl_counter = nullptr;
  tl_depth = tl_any_depth = 0;
}

}  // namespace ma::bench
