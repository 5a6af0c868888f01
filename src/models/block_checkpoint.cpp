#include "models/block_checkpoint.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::GradMode (not via ATen.h on 2.x)
#include <memory>

#include "nn/checkpoint.h"

namespace ma {
namespace {

using Mode = nn::ReferenceBank::Mode;
// A block's own computation: its tensors and a context in, its outputs out
// (defined tensors only).
using BlockBody = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& own, const BlockContext& ctx)>;

// Runs body(own, ctx) checkpointed. The checkpoint's inputs are own + temb +
// text + the bank entries from the cursor on (read mode); its outputs the
// body's + the entries banked (write mode). Each run works on a scratch bank
// built from those inputs, so recomputing in backward neither reads stale
// key/value caches nor banks twice; the real bank then gets the banked
// entries (as the checkpoint's outputs, which carry the graph) or its cursor
// advanced past the entries read.
std::vector<at::Tensor> checkpoint_block(const nn::Module& block, const std::vector<at::Tensor>& own,
                                         const BlockContext& ctx, const BlockBody& body) {
  nn::ReferenceBank* bank = ctx.attn.reference;
  const Mode mode = bank ? bank->mode : Mode::kOff;
  const size_t n_own = own.size(), cursor = bank ? bank->cursor : 0;
  std::vector<at::Tensor> inputs = own;
  inputs.push_back(ctx.temb);
  inputs.push_back(ctx.attn.text);
  if (mode == Mode::kRead)
    for (size_t i = cursor; i < bank->entries.size(); ++i) inputs.push_back(bank->entries[i].hidden);

  struct Counts {
    size_t body = 0, read = 0, written = 0;
  };
  auto counts = std::make_shared<Counts>();
  const int64_t frames = ctx.frames;
  const bool fp16_handoff = bank ? bank->fp16_handoff : true;
  nn::CheckpointFn fn = [=](const std::vector<at::Tensor>& in) {
    BlockContext c;
    c.frames = frames;
    c.temb = in[n_own];
    c.attn.text = in[n_own + 1];
    nn::ReferenceBank scratch;
    scratch.fp16_handoff = fp16_handoff;
    if (mode == Mode::kWrite) {
      scratch.start_write();
      c.attn.reference = &scratch;
    } else if (mode == Mode::kRead) {
      for (size_t i = n_own + 2; i < in.size(); ++i) scratch.entries.push_back({in[i], {}, {}});
      scratch.start_read();
      c.attn.reference = &scratch;
    }
    std::vector<at::Tensor> out = body(std::vector<at::Tensor>(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n_own)), c);
    counts->body = out.size();
    counts->read = scratch.mode == Mode::kRead ? scratch.cursor : 0;
    counts->written = mode == Mode::kWrite ? scratch.entries.size() : 0;
    if (mode == Mode::kWrite)
      for (const auto& e : scratch.entries) out.push_back(e.hidden);
    return out;
  };
  std::vector<at::Tensor> out = nn::checkpoint(fn, inputs, !block.trainable_parameters().empty());
  if (mode == Mode::kWrite)
    for (size_t k = 0; k < counts->written; ++k) bank->entries.push_back({out[counts->body + k], {}, {}});
  if (mode == Mode::kRead) bank->cursor += counts->read;
  out.resize(counts->body);
  return out;
}

bool wanted(bool checkpointing) { return checkpointing && at::GradMode::is_enabled(); }

}  // namespace

at::Tensor down_block_forward(const DownBlock& block, const at::Tensor& x, const BlockContext& ctx,
                              std::vector<at::Tensor>& skips, bool checkpointing) {
  if (!wanted(checkpointing)) return block.forward(x, ctx, skips);
  // The block's outputs are the skip connections it appends; the last one is
  // also its result.
  const std::vector<at::Tensor> added = checkpoint_block(block, {x}, ctx, [&block](const auto& own, const auto& c) {
    std::vector<at::Tensor> appended;
    block.forward(own[0], c, appended);
    return appended;
  });
  skips.insert(skips.end(), added.begin(), added.end());
  return added.back();
}

at::Tensor mid_block_forward(const MidBlock& block, const at::Tensor& x, const BlockContext& ctx, bool checkpointing) {
  if (!wanted(checkpointing)) return block.forward(x, ctx);
  return checkpoint_block(block, {x}, ctx, [&block](const auto& own, const auto& c) {
    return std::vector<at::Tensor>{block.forward(own[0], c)};
  })[0];
}

at::Tensor up_block_forward(const UpBlock& block, const at::Tensor& x, const BlockContext& ctx,
                            std::vector<at::Tensor>& skips, bool checkpointing) {
  if (!wanted(checkpointing)) return block.forward(x, ctx, skips);
  // Inputs: x and the skip connections it consumes (one per resnet, from the
  // back); the upsampler only needs the size of the next one, which a
  // zero-element stand-in of that size carries.
  const size_t n = block.resnets->size();
  std::vector<at::Tensor> own{x};
  own.insert(own.end(), skips.end() - static_cast<std::ptrdiff_t>(n), skips.end());
  at::Tensor next_size;
  if (skips.size() > n) {
    const at::Tensor& next = skips[skips.size() - n - 1];
    next_size = at::empty({0, 0, next.size(2), next.size(3)}, next.options());
  }
  const std::vector<at::Tensor> out = checkpoint_block(block, own, ctx, [&block, next_size](const auto& in, const auto& c) {
    std::vector<at::Tensor> s;
    if (next_size.defined()) s.push_back(next_size);
    s.insert(s.end(), in.begin() + 1, in.end());
    at::Tensor h = block.forward(in[0], c, s);
    return h.defined() ? std::vector<at::Tensor>{h} : std::vector<at::Tensor>{};
  });
  skips.resize(skips.size() - n);
  return out.empty() ? at::Tensor() : out[0];
}

}  // namespace ma
