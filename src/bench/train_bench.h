// `magicanimate bench --train`: the cost of one training step of each stage
// (train/trainer.h), with and without --gradient-checkpointing, on the
// full-size (or a --models folder's) configs with random weights: seconds,
// counted FLOPs (forward and backward), GFLOP/s and the process peak RSS.
// A step is what Trainer::train_step does for one sample: the frozen VAE
// encodes the target frames and the reference, train::diffusion_loss runs
// forward and backward, AdamW updates the trainable parts (the stage's
// default set). The prompt embedding, computed once per run by the trainer,
// is a random tensor of its shape here.
#pragma once
#include <string>
#include <vector>

#include "bench/benchmark.h"

namespace ma::bench {

// "train_stage1_step", "train_stage1_step_checkpointed", "train_stage2_step",
// "train_stage2_step_checkpointed".
std::vector<std::string> train_component_keys();

// Runs the wanted (BenchOptions::only; empty: all) training components at
// options.size (stage 2 over options.frames frames) and appends them to
// report.components. One stage's models are held at a time.
void run_train_benchmark(const BenchOptions& options, BenchReport& report);

}  // namespace ma::bench
