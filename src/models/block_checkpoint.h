// --gradient-checkpointing for the UNet family (3D UNet, appearance encoder,
// ControlNet): each down, mid and up block runs through nn::checkpoint, its
// activations recomputed in the backward pass. Everything a block reads
// that may need a gradient is an explicit input of the checkpoint: the
// hidden states and the skip connections it consumes, the time embedding,
// the text, and the reference bank entries it reads; the entries a writing
// block (appearance encoder) banks are explicit outputs. Without
// `checkpointing`, or without grad mode, these are the blocks' own forward.
#pragma once
#include "models/unet_blocks.h"

namespace ma {

at::Tensor down_block_forward(const DownBlock& block, const at::Tensor& x, const BlockContext& ctx,
                              std::vector<at::Tensor>& skips, bool checkpointing);
at::Tensor mid_block_forward(const MidBlock& block, const at::Tensor& x, const BlockContext& ctx, bool checkpointing);
at::Tensor up_block_forward(const UpBlock& block, const at::Tensor& x, const BlockContext& ctx,
                            std::vector<at::Tensor>& skips, bool checkpointing);

}  // namespace ma
