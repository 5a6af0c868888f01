// Trainer options for the tiny fixture models (tests/data/models): 64x64
// (their smallest size, 8x8 latents), 3-frame clips, one thread (bit-exact
// comparisons need one thread count; one is also fastest on a busy
// machine), no checkpoints saved. Tests set what they exercise on top.
#pragma once
#include <string>

#include "tests/test_util.h"
#include "train/trainer.h"

namespace ma::test {

inline train::TrainOptions tiny_train_options(int stage, const std::string& data, const std::string& out) {
  train::TrainOptions o;
  o.sampler.stage = stage;
  o.models = models_dir();
  o.data = data;
  o.out = out;
  o.width = o.height = 64;
  o.sampler.frames = 3;
  o.save_every = 0;
  o.threads = 1;
  return o;
}

}  // namespace ma::test
