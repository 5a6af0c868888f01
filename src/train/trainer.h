// `magicanimate train`: MagicAnimate's two training stages on the engine's
// own modules (autograd through the same module tree the sampler runs).
//   Stage 1: appearance encoder + DensePose ControlNet train; the base UNet
//            (2D, no temporal layers), VAE and text encoder are frozen.
//   Stage 2: only the motion modules train, on K-frame clips through the 3D
//            UNet (single images are 1-frame clips).
// Objective: epsilon-prediction MSE with the DDPM forward process; see
// Trainer::train_sample for the whole step.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/joint_sampler.h"
#include "weights/model_paths.h"
#include "train/optimizer.h"

namespace ma::dist {
class Communicator;
}

namespace ma::train {

struct TrainOptions {
  // --stage vae: the KL-VAE alone, on single frames (train/vae_objective.h);
  // sampler.stage then only says how frames are drawn (1: single frames).
  bool vae = false;
  double kl_weight = 1e-6;          // the VAE stage's KL weight (LDM's kl-f8 value)
  std::string models = "pretrained_models", data, out;
  ModelPathOverrides parts;         // per-part overrides, as `animate` takes (--motion-module: e.g.
                                    // AnimateDiff's mm_sd_v15*.ckpt when the models lack temporal_attention)
  int64_t width = 512, height = 512;
  int64_t batch = 1;                // samples per micro-step (per rank)
  int64_t grad_accum = 1;           // micro-steps per optimiser step
  int64_t steps = 1000;             // optimiser steps in total
  OptimizerOptions optim;
  std::vector<std::string> trainable;  // part names; empty: the stage's default
  data::SamplerOptions sampler;     // stage, K, taus, ref-drop, crop
  int64_t save_every = 500;         // 0: only at the end
  int64_t keep = 0;                 // checkpoints kept (0: all)
  std::string resume;               // "", "latest" or a checkpoint folder
  uint64_t seed = 42;
  int threads = 0;
  at::ScalarType dtype = at::kFloat;
  bool skip_bad = false;
  bool scaled_linear = false;       // beta schedule (release: linear)
  std::string prompt;               // text condition (release: "")
  bool gradient_checkpointing = false;
  // Tests: every step trains on step 0's draws (the same frames, crop,
  // reference, noise and t), to check that the trained parts can fit one
  // sample (train_overfit_test).
  bool repeat_first_sample = false;
  int64_t validate_every = 0;
  // > 0: checkpoints publish an exponential moving average of the trained
  // weights with this decay (train/ema.h); the raw weights are kept in
  // trainer_state/weights.safetensors for --resume. Stages 1 and 2.
  double ema_decay = 0;
  double snr_gamma = 0;  // > 0: Min-SNR-gamma loss weights (train/objective.h); stages 1 and 2
};

// Part names for --trainable, and each stage's default set (the VAE stage: vae).
extern const std::vector<std::string> kPartNames;  // appearance_encoder, controlnet, unet, motion_modules, vae
std::vector<std::string> default_trainable(const TrainOptions& o);
// "vae" for the VAE stage, else 1 or 2 (trainer_state/state.json's "stage").
nlohmann::json stage_id(const TrainOptions& o);

// Checks option values and combinations (ma::Error naming the option).
void validate(const TrainOptions& o);

struct StepReport {
  int64_t step = 0, steps = 0;  // 1-based step just done, total
  double loss = 0, lr = 0, grad_norm = 0, seconds = 0;
  std::string kind;             // "ref" / "image" / "video" / "ref-dropped" (comma-joined for several samples)
};

struct TrainCallbacks {
  std::function<void(const std::string&)> info;        // one line (loading, warnings, saves)
  std::function<void(const StepReport&)> step;         // after each optimiser step
  std::function<void(const std::string& file)> on_checkpoint_file;  // tests: crash injection while saving
};

class Trainer {
 public:
  // Scans the dataset, loads and initialises the models, sets up the
  // optimiser, and restores a checkpoint when options.resume is set. Nothing
  // is written under options.out before the first save.
  // `comm` (null: one process): train data-parallel as its rank (see
  // train/data_parallel.h); every rank constructs its Trainer with the same
  // options, and only rank 0 writes anything.
  Trainer(const TrainOptions& options, const TrainCallbacks& callbacks = {},
          std::shared_ptr<dist::Communicator> comm = nullptr);
  ~Trainer();

  int64_t step() const;  // optimiser steps done
  // One optimiser step (world x grad_accum x batch samples). Appends to OUT/train.jsonl.
  StepReport train_step();
  // Writes OUT/checkpoint-<step> (and loss.svg); returns its path. On several
  // ranks every rank calls it: the weights are checked to agree, rank 0
  // writes, and all wait for it.
  std::string save();
  // Trains to options.steps, saving every save_every and at the end; on
  // *cancel saves and throws ma::Cancelled.
  void run(const std::atomic<bool>* cancel = nullptr);

  // For tests: the trainable parameters (as the optimiser holds them) and every
  // parameter by "<part>.<key>".
  const std::vector<NamedParameter>& trainable_parameters() const;
  std::vector<NamedParameter> all_parameters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ma::train
