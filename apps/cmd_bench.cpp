// `magicanimate bench`: per-component timings, counted FLOPs, share of the
// machine's GEMM peak and peak memory of the MagicAnimate pipeline, on models
// built from their configs with random weights (nothing to download).
#include <iostream>

#include "apps/bench_scaling.h"
#include "apps/commands.h"
#include "apps/dist_options.h"
#include "bench/benchmark.h"
#include "cli/options.h"
#include "util/error.h"

namespace ma::app {
namespace {

struct BenchFlags {
  bench::BenchOptions options;
  cli::EngineFlags engine;
  cli::OutputFlags output;
  std::string only;
  bool json = false;
  DistOptions dist;  // --nproc N: the multi-process speed-up instead (bench_scaling.h)
};

const char* kFooter = R"(Components (each timed once, after the models are built):
  text_encoder            CLIP text encoder, one prompt
  vae_encode_reference    VAE encoder on the reference image
  appearance_encoder      appearance encoder writing the reference bank
  controlnet_frame        DensePose ControlNet, per frame (one call over the window's frames)
  unet3d_window           UNet3D + motion modules + reference attention, one window with CFG
  controlnet_frame_shallow   ControlNet's first down block, per frame (--deep-cache reuse steps)
  unet3d_window_shallow      UNet3D's shallow branch on kept deep features (--deep-cache reuse steps)
  vae_decode_frame        VAE decoder, per frame (frames per call as the pipeline batches them)
  denoise_step_F_frames   one complete denoising step of an F-frame video (F = --frames)
  denoise_step_2F_frames  the same for 2F frames (several overlapping windows)
  end_to_end              F frames, --steps steps: text, reference, denoising, decode
With --train, one training step of each stage instead (forward + backward + AdamW, VAE encode included):
  train_stage1_step                1 image, appearance encoder + ControlNet trained
  train_stage1_step_checkpointed   the same with --gradient-checkpointing
  train_stage2_step                an F-frame clip (F = --frames), motion modules trained
  train_stage2_step_checkpointed   the same with --gradient-checkpointing
  Full size in fp32 holds the weights, gradients and AdamW moments: stage 1 about 23 GB,
  stage 2 about 15 GB before activations (docs/performance.md).
FLOPs: 2 x multiply-adds of every convolution, linear-layer matmul and attention matmul the layers
  dispatch (counted at their real shapes); "percent_of_peak" compares GFLOP/s with the fp32 GEMM
  peak measured at the start of the same run. Peak RSS is the process's (weights included) while
  the component ran. Timings on a shared machine are noisy.
Models: without --models, MagicAnimate's full-size models (SD 1.5 UNet3D 1.28 G parameters,
  appearance encoder, ControlNet, VAE, CLIP text) with random weights: about 11 GB in fp32.
  --models DIR reads only the config.json files and tokenizer of a pretrained_models folder
  (e.g. the tiny test models: --models tests/data/models --size 64 runs in seconds).
Low memory: --low-memory writes the random weights to files under $TMPDIR (or /tmp; about 11 GB at
  full size, unlinked at once) and maps them back as real weights load, so each network is resident
  only while it runs, as in `animate --low-memory`; put TMPDIR on a disk, not a tmpfs.
Scaling: --nproc N times one animation of 4 x --frames frames (--steps steps) on 1 process and on N
  local processes (cores divided among them; windows split as `animate --nproc`) and prints the
  speed-up, efficiency and the all-reduce's bytes and seconds per step (docs/distributed.md).)";

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* sub = app.add_subcommand("bench", "Benchmark every part of the pipeline (random weights, no download)");
  sub->footer(kFooter);
  sub->add_option("--size", f->options.size, "Output width and height (multiple of 64; 256 or 512)")
      ->capture_default_str();
  sub->add_option("--frames", f->options.frames, "Frames per window (1-" + std::to_string(kMaxContextFrames) + "); the steps use F and 2F frames")
      ->capture_default_str();
  sub->add_option("--steps", f->options.steps, "DDIM steps of the end-to-end run")->capture_default_str();
  cli::add_engine_options(*sub, f->engine);
  sub->add_option("--models", f->options.models_dir,
                  "pretrained_models folder whose configs to use (default: the full-size configs)");
  sub->add_option("--only", f->only, "Comma-separated components to run (default: all)");
  sub->add_option("--gemm-size", f->options.gemm_size, "n of the n^3 GEMM that measures the peak")
      ->capture_default_str();
  sub->add_flag("--train", f->options.train, "Time one training step of each stage instead (see below)");
  sub->add_flag("--json", f->json, "Print one JSON object instead of the table");
  // --json is the report's format, not JSON log lines.
  cli::add_output_options(*sub, f->output, "", /*json_lines=*/false, "No progress lines on stderr");
  add_dist_options(*sub, f->dist);
  return [f]() -> int {
    bench::BenchOptions o = f->options;
    const EngineOptions engine = cli::engine_options_from(f->engine);
    o.threads = engine.threads;
    o.dtype = engine.dtype;
    o.device = engine.device;
    o.low_memory = engine.low_memory;
    o.only = cli::split_list(f->only);
    if (!f->output.quiet) o.log = [](const std::string& line) { std::cerr << line << std::endl; };
    if (f->dist.nproc > 1) return run_bench_scaling(o, f->dist, f->json);
    bench::BenchReport report = bench::run_benchmark(o);
    if (f->json)
      std::cout << report.to_json().dump(2) << std::endl;
    else
      std::cout << report.to_table() << std::flush;
    return 0;
  };
}

}  // namespace ma::app
