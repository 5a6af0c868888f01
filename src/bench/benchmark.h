// `magicanimate bench`: times each part of the MagicAnimate pipeline on
// models built from their configs with random weights, and reports seconds,
// counted FLOPs, achieved GFLOP/s, the share of this machine's fp32 GEMM peak
// (measured in the same run) and the peak resident memory of each part.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "bench/flop_counter.h"

namespace ma::bench {

struct BenchOptions {
  std::string models_dir;  // empty: the released full-size configs
  int64_t size = 256;      // output width = height (multiple of 64)
  int64_t frames = 16;     // context window; the step benchmarks use `frames` and 2 * `frames`
  int64_t steps = 1;       // denoising steps of the end-to-end run
  int threads = 0;         // 0: every core
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;  // models and inputs (the GEMM peak is the CPU's)
  int64_t gemm_size = 2048;  // n of the n x n x n peak GEMM
  std::vector<std::string> only;  // component keys to run; empty: all
  bool train = false;  // the training steps instead (bench/train_bench.h)
  // The random weights written to files under $TMPDIR (or /tmp) and mapped back,
  // each network's pages released when it has run (EngineOptions::low_memory).
  bool low_memory = false;
  std::function<void(const std::string&)> log;  // progress lines (may be empty)
};

// The component keys, in the order they run.
std::vector<std::string> component_keys(const BenchOptions& options);

// Throws ma::Error (one line) for an option out of range.
void validate(const BenchOptions& options);

struct ComponentResult {
  std::string key, description;
  double seconds = 0;      // per unit (a frame for the per-frame parts)
  FlopCounts flops;        // per unit
  int64_t peak_rss_bytes = 0;  // process peak while it ran (weights included)
  int64_t units = 1;       // frames timed together for the per-frame parts
};

struct BenchReport {
  BenchOptions options;
  int threads = 0;
  double gemm_peak_gflops = 0;        // fp32
  double gemm_peak_dtype_gflops = 0;  // in options.dtype when not fp32
  double conv_peak_gflops = 0;        // fp32 3x3 convolution (oneDNN), for context
  int64_t allocation_cache_cap_bytes = 0, allocation_cache_hits = 0, allocation_cache_misses = 0;
  int64_t weight_bytes = 0, file_backed_weight_bytes = 0, rss_after_load_bytes = 0, process_peak_rss_bytes = 0;
  double load_seconds = 0;
  std::string cpu, blas, torch_version, models;
  int cores = 0;
  int64_t memory_bytes = 0;
  std::vector<ComponentResult> components;

  nlohmann::ordered_json to_json() const;
  std::string to_table() const;
};

BenchReport run_benchmark(const BenchOptions& options);

// Times fn once with the FLOP counter on and the peak RSS restarted; `log`
// (may be empty) gets a line before and after.
ComponentResult measure_component(const std::string& key, const std::string& description, int64_t units,
                                  const std::function<void(const std::string&)>& log, const std::function<void()>& fn);

// Best of `reps` timed at::mm of two n x n matrices in `dtype` (after one
// warm-up), in GFLOP/s (2 n^3 per product), on the current thread setting.
double gemm_peak_gflops(int64_t n, at::ScalarType dtype, int reps = 5);

// Best of `reps` 3x3 convolutions, 256 -> 256 channels on 8 x 64 x 64, in GFLOP/s.
double conv_peak_gflops(at::ScalarType dtype, int reps = 3);

}  // namespace ma::bench
