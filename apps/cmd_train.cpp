// `magicanimate train`: MagicAnimate's two training stages (src/train/). This
// file only declares the options and reports progress.
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "apps/dist_options.h"
#include "cli/interrupt.h"
#include "cli/options.h"
#include "cli/reporter.h"
#include "train/trainer.h"
#include "util/dtype.h"
#include "util/error.h"

namespace ma::app {
namespace {

struct TrainCliOptions {
  train::TrainOptions t;
  int64_t size = 512, width = 0, height = 0;
  std::string stage, trainable, dtype = "fp32", beta_schedule = "linear", lr_schedule = "constant";
  bool quiet = false, log_json = false;
  DistOptions dist;
};

const char* kFooter = R"(Stages (MagicAnimate, paper section 3.4):
  1  appearance encoder + DensePose ControlNet train on single frames; the base UNet (2D, no
     temporal layers), VAE and text encoder are frozen. tau0: share of samples whose target is
     the reference frame itself (reconstruction); the others take another frame of the video.
  2  only the motion modules train, on --frames-frame clips through the 3D UNet. r <= tau1: the
     reference frame as a single image; tau1 < r <= tau2: another single frame; else a clip.
  Single images go through the 3D UNet as 1-frame clips. --ref-drop: share of samples trained
  without the reference (the unconditional half of classifier-free guidance).
  vae  the KL-VAE alone, on single frames: mean |x - decode(z)| + --kl-weight x KL / pixels, z
     sampled from the encoder's posterior (LDM's objective without its perceptual and GAN terms).
     A VAE folder without weights starts fresh. Each save writes OUT/checkpoint-<n>/sd-vae-ft-mse
     rescaled so that latents x 0.18215 (MagicAnimate's constant) have unit std, as SD's do.
  A base UNet without weights starts fresh when it trains (--trainable unet,...): stage 1 with
  --trainable unet,appearance_encoder,controlnet trains a model from scratch (scripts/train-demo.sh).
Models: the `animate` layout. Missing MagicAnimate parts are initialised as the paper does: the
  appearance encoder and ControlNet from the base UNet (ControlNet's zero convolutions zero), the
  motion modules from --motion-module FILE (e.g. AnimateDiff mm_sd_v15.ckpt) or fresh with zero
  output projections.
Data (--data): <video>/images/<frame> + <video>/densepose/<frame> folders (TikTok layout), or
  videos/<name> + densepose/<name> pairs (MP4/WebM/GIF or frame folders). Every file is checked
  before training; a bad clip stops the run (one line naming it) unless --skip-bad.
Output (--out): OUT/checkpoint-<step>/ (a models folder for `animate --models` and
  `check-models`, with trainer_state/), OUT/latest, OUT/train.jsonl, OUT/loss.svg, and with
  --validate-every OUT/validation/step-<n>.mp4 (source | pose | result of the held-out last clip).
  --resume latest continues a run bit for bit (same thread count).
Several processes (data parallel): --nproc N here, or torchrun / mpirun / srun (their variables
  are read). Each optimiser step trains N = processes x --batch x --grad-accum samples; sample
  (step, slot) is drawn, cropped, noised and timed from (--seed, step, slot) alone, and process r
  trains the slots (a x processes + r) x --batch + j of micro-step a. The gradients (each sample
  weighted 1/N) are summed over the processes (c10d all-reduce, 25 MiB buckets) before clipping: the
  mean over the N samples, identical on every process. So any split with the same N trains what
  one process with --batch N does, and --resume may change the process count as long as N stays
  the same (another N is refused). Only rank 0 writes OUT and prints; every process
  must read --data and --models (and the checkpoint on --resume). See docs/distributed.md.
Exit status: 0 done, 1 error (one line on stderr), 130 cancelled (a checkpoint is saved first).)";

}  // namespace

Action add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainCliOptions>();
  train::TrainOptions& t = o->t;
  CLI::App* sub = app.add_subcommand("train", "Train MagicAnimate (stage 1: appearance + pose, stage 2: motion)");
  sub->footer(kFooter);
  const char* g_data = "Data and models";
  sub->add_option("--stage", o->stage, "Training stage: 1, 2 or vae (below)")
      ->required()->check(CLI::IsMember({"1", "2", "vae"}))->group(g_data);
  sub->add_option("--models", t.models, "pretrained_models folder (as `animate --models`)")
      ->capture_default_str()->type_name("DIR")->group(g_data);
  sub->add_option("--data", t.data, "Dataset folder (see below)")->required()->type_name("DIR")->group(g_data);
  sub->add_option("--out", t.out, "Output folder for checkpoints and logs")->required()->type_name("DIR")->group(g_data);
  sub->add_option("--sd", t.parts.sd, "stable-diffusion-v1-5 folder (default: MODELS/stable-diffusion-v1-5)")
      ->type_name("DIR")->group(g_data);
  sub->add_option("--vae", t.parts.vae, "VAE folder (default: MODELS/sd-vae-ft-mse)")->type_name("DIR")->group(g_data);
  sub->add_option("--appearance-encoder", t.parts.appearance_encoder,
                  "Appearance encoder folder (default: MODELS/MagicAnimate/appearance_encoder)")
      ->type_name("DIR")->group(g_data);
  sub->add_option("--controlnet", t.parts.controlnet,
                  "ControlNet folder (default: MODELS/MagicAnimate/densepose_controlnet)")
      ->type_name("DIR")->group(g_data);
  sub->add_option("--motion-module", t.parts.motion_module,
                  "Motion modules file (default: MODELS/MagicAnimate/temporal_attention/temporal_attention.ckpt)")
      ->type_name("FILE")->group(g_data);
  sub->add_flag("--skip-bad", t.skip_bad, "Skip broken clips with a warning each (default: stop)")->group(g_data);

  const char* g_sample = "Samples";
  auto* size = sub->add_option("--size", o->size, "Training width and height (multiple of 8)")
                   ->capture_default_str()->group(g_sample);
  auto* width = sub->add_option("--width", o->width, "Training width (default: --size)")->group(g_sample);
  auto* height = sub->add_option("--height", o->height, "Training height (default: --size)")->group(g_sample);
  sub->add_option("--frames", t.sampler.frames, "Frames per stage-2 clip (K, at most 24)")->capture_default_str()->group(g_sample);
  sub->add_option("--batch", t.batch, "Samples per micro-step (per process)")->capture_default_str()->group(g_sample);
  sub->add_option("--tau0", t.sampler.tau0, "Stage 1: share of reconstruction samples (target = reference)")
      ->capture_default_str()->group(g_sample);
  sub->add_option("--tau1", t.sampler.tau1, "Stage 2: r <= tau1 -> the reference as a single image")
      ->capture_default_str()->group(g_sample);
  sub->add_option("--tau2", t.sampler.tau2, "Stage 2: tau1 < r <= tau2 -> another single frame; above: a clip")
      ->capture_default_str()->group(g_sample);
  sub->add_option("--ref-drop", t.sampler.ref_drop, "Share of samples without the reference (CFG uncond path)")
      ->capture_default_str()->group(g_sample);
  sub->add_option("--prompt", t.prompt, "Text condition (default: empty, as the release)")->group(g_sample);
  sub->add_option("--beta-schedule", o->beta_schedule, "DDPM betas 0.00085..0.012: linear (release) or scaled_linear")
      ->capture_default_str()->check(CLI::IsMember({"linear", "scaled_linear"}))->group(g_sample);

  const char* g_opt = "Optimisation";
  sub->add_option("--steps", t.steps, "Optimiser steps")->capture_default_str()->group(g_opt);
  sub->add_option("--lr", t.optim.lr, "AdamW learning rate (after the warmup)")->capture_default_str()->group(g_opt);
  sub->add_option("--warmup", t.optim.warmup, "Linear warmup steps")->capture_default_str()->group(g_opt);
  sub->add_option("--lr-schedule", o->lr_schedule,
                  "After the warmup: constant, or cosine (from --lr down to 0 at --steps)")
      ->capture_default_str()->check(CLI::IsMember({"constant", "cosine"}))->group(g_opt);
  sub->add_option("--ema-decay", t.ema_decay,
                  "Checkpoints publish an exponential moving average of the trained weights with this decay "
                  "(e.g. 0.999; 0: off); the raw weights stay in trainer_state/ for --resume. Stages 1 and 2")
      ->capture_default_str()->group(g_opt);
  sub->add_option("--weight-decay", t.optim.weight_decay, "AdamW weight decay")->capture_default_str()->group(g_opt);
  sub->add_option("--clip-grad", t.optim.clip_grad, "Max global gradient norm (0: no clipping)")
      ->capture_default_str()->group(g_opt);
  sub->add_option("--grad-accum", t.grad_accum, "Micro-steps per optimiser step")->capture_default_str()->group(g_opt);
  sub->add_option("--trainable", o->trainable,
                  "Parts to train, comma-separated: appearance_encoder,controlnet,unet,motion_modules (vae: --stage vae) "
                  "(default: stage 1 appearance_encoder,controlnet; stage 2 motion_modules)")
      ->group(g_opt);
  sub->add_option("--snr-gamma", t.snr_gamma,
                  "Min-SNR-gamma loss weighting, each sample's MSE x min(SNR, gamma) / SNR (e.g. 5; 0: plain MSE). "
                  "Stages 1 and 2")
      ->capture_default_str()->group(g_opt);
  sub->add_option("--kl-weight", t.kl_weight, "--stage vae: weight of the KL term (per pixel; LDM's kl-f8 value)")
      ->capture_default_str()->group(g_opt);
  sub->add_option("--seed", t.seed, "Seed of the data order, noise and timesteps")->capture_default_str()->group(g_opt);

  const char* g_ckpt = "Checkpoints";
  sub->add_option("--save-every", t.save_every, "Save every N steps (0: only at the end; always on Ctrl-C)")
      ->capture_default_str()->group(g_ckpt);
  sub->add_option("--keep", t.keep, "Keep the newest N checkpoints (0: all)")->capture_default_str()->group(g_ckpt);
  sub->add_option("--resume", t.resume, "Continue from OUT/latest ('latest') or a checkpoint folder")
      ->type_name("DIR|latest")->group(g_ckpt);
  sub->add_option("--validate-every", t.validate_every, "Every N steps animate the held-out last clip into OUT/validation/step-N.mp4 (0: never)")
      ->capture_default_str()->group(g_ckpt);

  const char* g_run = "Running";
  sub->add_option("--threads", t.threads, "CPU threads (0: every core)")->capture_default_str()->group(g_run);
  sub->add_option("--dtype", o->dtype, "Weights and compute: fp32 or bf16")->capture_default_str()->group(g_run);
  sub->add_flag("--gradient-checkpointing", t.gradient_checkpointing,
                "Recompute each UNet/ControlNet/appearance-encoder block's activations in the backward pass (less memory; a stage-2 step counts 25% more FLOPs)")
      ->group(g_run);
  sub->add_flag("--log-json", o->log_json, "One JSON object per step on stdout (default: off)")->group(g_run);
  sub->add_flag("--quiet", o->quiet, "Print nothing but errors (default: off)")->group(g_run);
  add_dist_options(*sub, o->dist);

  return [o, size, width, height]() {
    train::TrainOptions& t = o->t;
    if (o->quiet && o->log_json) throw Error("--quiet and --log-json cannot be used together");
    if (size->count() > 0 && (width->count() > 0 || height->count() > 0))
      throw Error("--size cannot be combined with --width/--height (use one or the other)");
    t.vae = o->stage == "vae";
    t.sampler.stage = o->stage == "2" ? 2 : 1;  // the VAE stage draws single frames as stage 1 does
    t.width = width->count() > 0 ? o->width : o->size;
    t.height = height->count() > 0 ? o->height : o->size;
    t.dtype = parse_dtype(o->dtype);
    t.trainable = cli::split_list(o->trainable);
    t.scaled_linear = o->beta_schedule == "scaled_linear";
    t.optim.cosine = o->lr_schedule == "cosine";
    t.optim.total_steps = t.steps;
    if (t.threads < 0) throw Error("--threads must be 0 (every core) or more");
    if (std::optional<int> status = launch_workers(o->dist)) return *status;
    const std::atomic<bool>* cancel = cli::install_interrupt_handlers();
    const DistRun dist = join_run(o->dist);
    t.threads = dist.threads(t.threads);
    // Only rank 0 reports; the other ranks print nothing but errors.
    const cli::LogMode mode = !dist.leader() ? cli::LogMode::quiet
                              : o->log_json  ? cli::LogMode::json
                              : o->quiet     ? cli::LogMode::quiet
                                             : cli::LogMode::normal;
    cli::Reporter rep(mode, false);
    train::TrainCallbacks cb;
    cb.info = [&](const std::string& s) { rep.info(s); };
    double total_seconds = 0;
    int64_t timed = 0;
    std::deque<double> recent;  // the running loss: mean of the last 20 steps
    double recent_sum = 0;
    cb.step = [&](const train::StepReport& r) {
      total_seconds += r.seconds;
      ++timed;
      recent.push_back(r.loss), recent_sum += r.loss;
      if (recent.size() > 20) recent_sum -= recent.front(), recent.pop_front();
      const double running = recent_sum / static_cast<double>(recent.size());
      const double eta = total_seconds / static_cast<double>(timed) * static_cast<double>(r.steps - r.step);
      rep.json({{"event", "step"}, {"step", r.step}, {"steps", r.steps}, {"loss", r.loss}, {"running_loss", running},
                {"lr", r.lr},
                {"grad_norm", r.grad_norm}, {"seconds", r.seconds}, {"eta_s", eta}, {"kind", r.kind}});
      if (mode == cli::LogMode::normal) {
        char line[256];
        std::snprintf(line, sizeof line, "step %lld/%lld  loss %.5f (running %.5f)  lr %.2e  |g| %.3f  %.2f s/step  ETA %s  [%s]",
                      static_cast<long long>(r.step), static_cast<long long>(r.steps), r.loss, running, r.lr, r.grad_norm,
                      r.seconds, cli::format_duration(eta).c_str(), r.kind.c_str());
        std::cerr << line << "\n";
      }
    };
    train::Trainer trainer(t, cb, dist.comm);
    trainer.run(cancel);
    rep.json({{"event", "finished"}, {"step", trainer.step()}});
    return 0;
  };
}

}  // namespace ma::app
