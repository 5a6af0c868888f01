#include "bench/benchmark.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "bench/memory.h"
#include "bench/models.h"
#include "bench/train_bench.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/controlnet.h"
#include "models/unet.h"
#include "nn/reference_bank.h"
#include "pipeline/animation.h"
#include "util/temp_dir.h"
#include "weights/mapped_pages.h"
#include "text/clip_tokenizer.h"
#include "util/bf16.h"
#include "util/cpu_allocator.h"
#include "util/dtype.h"
#include "util/error.h"
#include "util/threads.h"

namespace ma::bench {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string str(int64_t v) { return std::to_string(v); }


// A DDIM timestep of a 25-step schedule; the cost does not depend on it.
constexpr double kTimestep = 961;

std::string step_key(int64_t frames) { return "denoise_step_" + str(frames) + "_frames"; }

std::string first_line_of_file(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size(), key) == 0) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) return "";
      std::string v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "";
}

// Which BLAS serves sgemm_ in this process (Debian's libtorch uses whatever
// libblas.so.3 the alternatives system points to: the reference BLAS unless
// OpenBLAS is installed).
std::string loaded_blas() {
  if (void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_")) {
    Dl_info info{};
    if (dladdr(sgemm, &info) && info.dli_fname) {
      char resolved[PATH_MAX];
      return realpath(info.dli_fname, resolved) ? std::string(resolved) : std::string(info.dli_fname);
    }
  }
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("openblas") != std::string::npos || path.find("libmkl") != std::string::npos ||
        path.find("libblis") != std::string::npos)
      return path;
    if (found.empty() && path.find("libblas") != std::string::npos) found = path;
  }
  return found.empty() ? "unknown" : found;
}

}  // namespace

std::vector<std::string> component_keys(const BenchOptions& o) {
  if (o.train) return train_component_keys();
  return {"text_encoder",          "vae_encode_reference",  "appearance_encoder", "controlnet_frame",
          "unet3d_window",         "controlnet_frame_shallow", "unet3d_window_shallow", "vae_decode_frame",
          step_key(o.frames),      step_key(2 * o.frames),  "end_to_end"};
}

void validate(const BenchOptions& o) {
  if (o.size < 64 || o.size > 2048 || o.size % 64)
    throw Error("--size must be a multiple of 64 between 64 and 2048 (the UNet halves the 1/8-size latents three "
                "times), got " + str(o.size));
  if (o.frames < 1 || o.frames > kMaxContextFrames)
    throw Error("--frames must be between 1 and " + str(kMaxContextFrames) +
                " (the motion modules' position limit), got " + str(o.frames));
  if (o.steps < 1 || o.steps > 100) throw Error("--steps must be between 1 and 100, got " + str(o.steps));
  if (o.threads < 0) throw Error("--threads must be 0 (every core) or more, got " + std::to_string(o.threads));
  if (!o.device.is_cpu())  // its inputs and GEMM peak are built on the CPU so far
    throw Error("--device " + o.device.str() + ": the benchmark runs on the CPU only so far (use --device cpu)");
  if (o.low_memory && o.train)
    throw Error("--low-memory is for inference: --train updates the weights in place, in memory");
  if (o.gemm_size < 64 || o.gemm_size > 16384)
    throw Error("--gemm-size must be between 64 and 16384, got " + str(o.gemm_size));
  const std::vector<std::string> keys = component_keys(o);
  for (const std::string& k : o.only)
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string all;
      for (const auto& key : keys) all += (all.empty() ? "" : ", ") + key;
      throw Error("--only: unknown component '" + k + "' (components: " + all + ")");
    }
}

double gemm_peak_gflops(int64_t n, at::ScalarType dtype, int reps) {
  c10::InferenceMode guard;
  const auto opt = at::TensorOptions().dtype(dtype);
  at::Tensor a = at::randn({n, n}).to(dtype), b = at::randn({n, n}).to(dtype), c = at::empty({n, n}, opt);
  at::mm_out(c, a, b);  // warm-up: threads started, pages touched
  double best = 1e300;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = Clock::now();
    at::mm_out(c, a, b);
    best = std::min(best, since(t0));
  }
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best / 1e9;
}

double conv_peak_gflops(at::ScalarType dtype, int reps) {
  c10::InferenceMode guard;
  // A VAE-decoder-like 3x3 convolution: 256 -> 256 channels on 8 x 64 x 64.
  const int64_t n = 8, c = 256, hw = 64;
  at::Tensor x = at::randn({n, c, hw, hw}).to(dtype), w = at::randn({c, c, 3, 3}).mul_(0.02).to(dtype);
  (void)at::conv2d(x, w, {}, 1, 1);  // warm-up: oneDNN builds its kernel
  double best = 1e300;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = Clock::now();
    (void)at::conv2d(x, w, {}, 1, 1);
    best = std::min(best, since(t0));
  }
  return 2.0 * n * c * hw * hw * c * 9 / best / 1e9;
}

namespace {

void log_result(const std::function<void(const std::string&)>& log, const ComponentResult& res) {
  if (log)
    log("bench: " + res.key + ": " + std::to_string(res.seconds) + " s, " + std::to_string(res.flops.total() / 1e9) +
        " GFLOP");
}

// The whole run's peak RSS and allocation-cache figures.
void fill_process_figures(BenchReport& r) {
  r.process_peak_rss_bytes = peak_rss_bytes();
  const AllocationCacheStats cache = allocation_cache_stats();
  r.allocation_cache_cap_bytes = cache.cap_bytes;
  r.allocation_cache_hits = cache.hits;
  r.allocation_cache_misses = cache.misses;
}

}  // namespace

ComponentResult measure_component(const std::string& key, const std::string& description, int64_t units,
                                  const std::function<void(const std::string&)>& log, const std::function<void()>& fn) {
  if (log) log("bench: " + key + " (" + description + ")");
  ComponentResult res;
  res.key = key;
  res.description = description;
  res.units = units;
  reset_peak_rss();
  FlopCounts flops;
  const auto t0 = Clock::now();
  {
    FlopCounter counter;
    fn();
    flops = counter.counts();
  }
  const double seconds = since(t0);
  res.seconds = seconds / static_cast<double>(units);
  res.flops = flops.scaled(1.0 / static_cast<double>(units));
  res.peak_rss_bytes = peak_rss_bytes();
  log_result(log, res);
  return res;
}

namespace {

class Runner {
 public:
  Runner(const BenchOptions& o, BenchReport& r) : o_(o), r_(r) {}

  bool wanted(const std::string& key) const {
    return o_.only.empty() || std::find(o_.only.begin(), o_.only.end(), key) != o_.only.end();
  }
  void log(const std::string& line) const {
    if (o_.log) o_.log(line);
  }

  template <class Fn>
  void measure(const std::string& key, const std::string& description, int64_t units, Fn&& fn) {
    r_.components.push_back(measure_component(key, description, units, o_.log, fn));
  }

  void add(const ComponentResult& res) {
    log_result(o_.log, res);
    r_.components.push_back(res);
  }

  // One Animator run over `frames` frames and `steps` steps. Its first
  // denoising step is reported as `step_result` (when wanted); with
  // `stop_after_step` the run is cancelled once that step is complete.
  void animation(Animator& animator, int64_t frames, int64_t steps, bool stop_after_step, bool report_step,
                 bool report_total) {
    const int64_t size = o_.size;
    at::Tensor source = at::randint(0, 256, {size, size, 3}, at::TensorOptions().dtype(at::kByte));
    at::Tensor control = at::randint(0, 256, {frames, size, size, 3}, at::TensorOptions().dtype(at::kByte));
    AnimationParams p;
    p.width = p.height = size;
    p.steps = steps;
    p.context = o_.frames;
    p.overlap = std::min<int64_t>(4, o_.frames - 1);
    p.length_multiple = 1;  // time exactly `frames` frames: no padding to the original's L
    p.guidance = 7.5;
    p.seed = 1;

    std::atomic<bool> cancel{false};
    FlopCounter counter;
    Clock::time_point step_start;
    FlopCounts step_flops_start;
    int64_t peak_before_step = 0;
    ComponentResult step;
    step.key = step_key(frames);
    step.description = "one denoising step of a " + str(frames) + "-frame video: appearance encoder, ControlNet on " +
                       "every frame, the UNet over every window with CFG, DDIM";
    auto tap = [&](const std::string& name, const at::Tensor&) {
      if (name == "step0.latents_in") {
        peak_before_step = peak_rss_bytes();
        reset_peak_rss();
        step_flops_start = counter.counts();
        step_start = Clock::now();
      } else if (name == "step0.latents_out") {
        step.seconds = since(step_start);
        step.flops = counter.counts() - step_flops_start;
        step.peak_rss_bytes = peak_rss_bytes();
        if (stop_after_step) cancel = true;
      }
    };
    log("bench: animation of " + str(frames) + " frames, " + str(steps) + " step(s)" +
        (stop_after_step ? ", stopped after the first step" : ""));
    reset_peak_rss();
    const auto t0 = Clock::now();
    try {
      animator.animate(source, control, p, {}, &cancel, tap);
    } catch (const Cancelled&) {
      if (!stop_after_step) throw;
    }
    const double total = since(t0);
    if (report_step) add(step);
    if (report_total) {
      ComponentResult e2e;
      e2e.key = "end_to_end";
      e2e.description = str(frames) + " frames, " + str(steps) + " DDIM step(s): text, reference encoding, " +
                        "denoising, VAE decode";
      e2e.seconds = total;
      e2e.flops = counter.counts();
      e2e.peak_rss_bytes = std::max(peak_before_step, peak_rss_bytes());
      add(e2e);
    }
  }

 private:
  const BenchOptions& o_;
  BenchReport& r_;
};

}  // namespace

BenchReport run_benchmark(const BenchOptions& o) {
  validate(o);
  require_dtype_supported(o.dtype, at::kCPU);
  BenchReport r;
  r.options = o;
  r.threads = configure_threads(o.threads);
  enable_allocation_cache();
  r.cores = static_cast<int>(std::thread::hardware_concurrency());
  r.cpu = first_line_of_file("/proc/cpuinfo", "model name");
  {
    std::istringstream mem(first_line_of_file("/proc/meminfo", "MemTotal"));
    int64_t kb = 0;
    mem >> kb;
    r.memory_bytes = kb * 1024;
  }
  r.torch_version = TORCH_VERSION;
  r.blas = loaded_blas();
  r.models = o.models_dir.empty() ? "MagicAnimate full size (SD 1.5 configs), random weights"
                                  : o.models_dir + " configs, random weights";
  if (o.train) {
    r.models = o.models_dir.empty() ? "MagicAnimate full size (SD 1.5 configs), random weights, training"
                                    : o.models_dir + " configs, random weights, training";
    r.gemm_peak_gflops = gemm_peak_gflops(o.gemm_size, at::kFloat);
    r.conv_peak_gflops = conv_peak_gflops(at::kFloat);
    run_train_benchmark(o, r);
    fill_process_figures(r);
    return r;
  }
  Runner run(o, r);
  c10::InferenceMode inference;

  run.log("bench: fp32 GEMM peak (" + str(o.gemm_size) + "^3 at::mm, " + std::to_string(r.threads) + " threads)");
  r.gemm_peak_gflops = gemm_peak_gflops(o.gemm_size, at::kFloat);
  // Without native bf16 the layers compute bf16 in fp32 (util/bf16.h): a bf16
  // GEMM peak would time kernels the engine does not use.
  const bool dtype_gemm_used = o.dtype == at::kHalf || (o.dtype == at::kBFloat16 && cpu_has_native_bf16());
  if (dtype_gemm_used) r.gemm_peak_dtype_gflops = gemm_peak_gflops(o.gemm_size, o.dtype);
  r.conv_peak_gflops = conv_peak_gflops(at::kFloat);

  run.log("bench: building the models (" + r.models + ", " + dtype_name(o.dtype) + ")");
  const auto load_start = Clock::now();
  const DeviceDtype weights{o.dtype, at::kCPU};
  const TempDir weight_files = o.low_memory ? TempDir("magicanimate-bench-weights") : TempDir();
  EngineModels models = build_random_models(o.models_dir, weights, 1, weight_files.path());
  r.load_seconds = since(load_start);
  release_allocation_cache();  // the random-weight temporaries: not part of any component
  const WeightBytes weight_bytes = models.weight_bytes();
  r.weight_bytes = weight_bytes.total;
  // Low-memory mode: a network's pages go back once it has been timed, as the
  // engine gives them back once it has run.
  auto done_with = [&](const nn::Module& net) {
    if (o.low_memory) (void)release_file_pages(net.tensors());
  };
  if (o.low_memory) {
    r.file_backed_weight_bytes = weight_bytes.file_backed;
    for (const nn::Module* net : models.networks()) done_with(*net);  // written and mapped back: nothing resident
  }
  r.rss_after_load_bytes = current_rss_bytes();

  const int64_t f = o.frames, size = o.size, lat = size / 8;
  const int64_t channels = models.unet->config().in_channels;
  at::manual_seed(1);

  // Inputs shaped as the pipeline makes them.
  at::Tensor text_cond;
  auto encode_text = [&] { text_cond = models.text_encoder->forward(models.tokenizer->tokenize("")); };
  if (run.wanted("text_encoder"))
    run.measure("text_encoder", "CLIP text encoder, one prompt", 1, encode_text);
  else
    encode_text();
  done_with(*models.text_encoder);
  const at::Tensor text = at::cat({text_cond, text_cond}, 0);

  if (run.wanted("vae_encode_reference")) {
    at::Tensor image = at::randint(0, 256, {size, size, 3}, at::TensorOptions().dtype(at::kByte));
    run.measure("vae_encode_reference", "VAE encoder, the reference image", 1,
                [&] { (void)models.vae->encode_reference(image); });
    done_with(*models.vae);
  }

  const bool shallow_unet = run.wanted("unet3d_window_shallow");
  const bool need_unet = run.wanted("unet3d_window") || shallow_unet;
  at::Tensor ref_latents = at::randn({1, channels, lat, lat}).to(o.dtype);
  nn::ReferenceBank bank;
  auto encode_appearance = [&] {
    bank.start_write();
    models.appearance_encoder->forward(ref_latents, kTimestep, text_cond, 1, nullptr, &bank);
    bank.start_read();
  };
  if (run.wanted("appearance_encoder"))
    run.measure("appearance_encoder", "appearance encoder on the reference latents, writing the reference bank", 1,
                encode_appearance);
  else if (need_unet)
    encode_appearance();
  done_with(*models.appearance_encoder);

  at::Tensor latents = at::randn({f, channels, lat, lat}).to(o.dtype);
  ControlResiduals residuals;
  auto control = [&] {
    at::Tensor cond = at::rand({f, 3, size, size}).to(o.dtype);
    residuals = models.controlnet->forward(latents, kTimestep, text_cond, cond);
  };
  if (run.wanted("controlnet_frame"))
    run.measure("controlnet_frame", "DensePose ControlNet per frame (" + str(f) + " frames per call, as the pipeline)",
                f, control);
  else if (need_unet)
    control();
  done_with(*models.controlnet);

  if (run.wanted("controlnet_frame_shallow"))
    run.measure("controlnet_frame_shallow",
                "DensePose ControlNet per frame, the first down block only (--deep-cache reuse steps; " + str(f) +
                    " frames per call)",
                f, [&] {
                  at::Tensor cond = at::rand({f, 3, size, size}).to(o.dtype);
                  (void)models.controlnet->forward(latents, kTimestep, text_cond, cond, 1.0, /*shallow_only=*/true);
                });

  // The full window keeps its deep features (as a --deep-cache full step
  // does: the same work) for the shallow window after it.
  DeepFeatureCache deep;
  auto unet_window = [&] {
    (void)models.unet->forward(at::cat({latents, latents}, 0), kTimestep, text, f, &residuals, &bank, true,
                               shallow_unet ? &deep : nullptr);
  };
  if (run.wanted("unet3d_window"))
    run.measure("unet3d_window",
                "UNet3D with motion modules and reference attention, one " + str(f) + "-frame window with CFG (batch " +
                    str(2 * f) + ")",
                1, unet_window);
  else if (shallow_unet)
    unet_window();
  if (shallow_unet) {
    deep.mode = DeepFeatureCache::Mode::kReuse;
    run.measure("unet3d_window_shallow",
                "UNet3D's shallow branch on the kept deep features (--deep-cache reuse steps), one " + str(f) +
                    "-frame window with CFG",
                1, unet_window);
  }
  deep = {};
  done_with(*models.unet);
  bank.clear();
  residuals = {};

  if (run.wanted("vae_decode_frame")) {
    // The batch the pipeline decodes at this size (kVaeDecodeBudgetBytes).
    const int64_t n = std::min(models.vae->decode_batch(kVaeDecodeBudgetBytes, lat, lat), f);
    at::Tensor z = at::randn({1, channels, n, lat, lat}).to(o.dtype);
    run.measure("vae_decode_frame", "VAE decoder per frame (" + str(n) + " frames per call, as the pipeline)", n,
                [&] { (void)models.vae->decode_video(z, n); });
    done_with(*models.vae);
  }

  const bool step1 = run.wanted(step_key(f)), step2 = run.wanted(step_key(2 * f)), e2e = run.wanted("end_to_end");
  if (step1 || step2 || e2e) {
    EngineOptions engine;
    engine.dtype = o.dtype;
    engine.threads = o.threads;
    engine.low_memory = o.low_memory;
    Animator animator(std::move(models), engine);
    // The end-to-end run's first step is the `frames`-frame step.
    if (e2e || step1) run.animation(animator, f, e2e ? o.steps : 1, !e2e, step1, e2e);
    if (step2) run.animation(animator, 2 * f, 1, true, true, false);
  }
  // Components in the documented order.
  const std::vector<std::string> keys = component_keys(o);
  std::stable_sort(r.components.begin(), r.components.end(), [&](const ComponentResult& a, const ComponentResult& b) {
    return std::find(keys.begin(), keys.end(), a.key) < std::find(keys.begin(), keys.end(), b.key);
  });
  fill_process_figures(r);
  return r;
}

namespace {
double round_to(double v, int digits) {
  const double k = std::pow(10.0, digits);
  return std::round(v * k) / k;
}
// The `n` ops that took longest, longest first (name -> seconds).
nlohmann::ordered_json top_ops(const std::map<std::string, double>& op_seconds, size_t n) {
  std::vector<std::pair<std::string, double>> ops(op_seconds.begin(), op_seconds.end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (size_t i = 0; i < ops.size() && i < n; ++i) j[ops[i].first] = round_to(ops[i].second, 4);
  return j;
}
}  // namespace

nlohmann::ordered_json BenchReport::to_json() const {
  nlohmann::ordered_json j;
  j["gemm_peak_gflops"] = round_to(gemm_peak_gflops, 2);
  if (gemm_peak_dtype_gflops > 0)
    j["gemm_peak_" + dtype_name(options.dtype) + "_gflops"] = round_to(gemm_peak_dtype_gflops, 2);
  j["conv3x3_fp32_gflops"] = round_to(conv_peak_gflops, 2);
  nlohmann::ordered_json comps = nlohmann::ordered_json::object();
  for (const ComponentResult& c : components) {
    nlohmann::ordered_json e;
    const double gflops = c.seconds > 0 ? c.flops.total() / 1e9 / c.seconds : 0;
    e["seconds"] = round_to(c.seconds, 6);
    e["gflop"] = round_to(c.flops.total() / 1e9, 4);
    e["gflops"] = round_to(gflops, 3);
    e["percent_of_peak"] = gemm_peak_gflops > 0 ? round_to(100.0 * gflops / gemm_peak_gflops, 2) : 0.0;
    e["peak_rss_mb"] = round_to(to_mb(c.peak_rss_bytes), 1);
    e["gflop_by_op"] = {{"conv", round_to(c.flops.conv / 1e9, 4)},
                        {"linear", round_to(c.flops.linear / 1e9, 4)},
                        {"attention", round_to(c.flops.attention / 1e9, 4)}};
    e["seconds_by_op"] = {{"conv", round_to(c.flops.conv_s, 6)},
                          {"linear", round_to(c.flops.linear_s, 6)},
                          {"attention", round_to(c.flops.attention_s, 6)},
                          {"other", round_to(std::max(0.0, c.seconds - c.flops.seconds()), 6)}};
    e["seconds_by_aten_op"] = top_ops(c.flops.op_seconds, 16);
    e["frames_per_call"] = c.units;
    e["what"] = c.description;
    comps[c.key] = e;
  }
  j["components"] = comps;
  j["size"] = options.size;
  j["frames"] = options.frames;
  j["steps"] = options.steps;
  if (options.train) j["train"] = true;
  j["dtype"] = dtype_name(options.dtype);
  j["threads"] = threads;
  j["models"] = models;
  j["weights_mb"] = round_to(to_mb(weight_bytes), 1);
  if (options.low_memory) {
    j["low_memory"] = true;
    j["file_backed_weights_mb"] = round_to(to_mb(file_backed_weight_bytes), 1);
  }
  j["model_build_seconds"] = round_to(load_seconds, 3);
  j["rss_after_load_mb"] = round_to(to_mb(rss_after_load_bytes), 1);
  j["process_peak_rss_mb"] = round_to(to_mb(process_peak_rss_bytes), 1);
  j["allocation_cache"] = {{"cap_mb", round_to(to_mb(allocation_cache_cap_bytes), 0)},
                           {"hits", allocation_cache_hits},
                           {"misses", allocation_cache_misses}};
  j["machine"] = {{"cpu", cpu},
                  {"cores", cores},
                  {"memory_mb", round_to(to_mb(memory_bytes), 0)},
                  {"blas", blas},
                  {"libtorch", torch_version}};
  return j;
}

std::string BenchReport::to_table() const {
  std::ostringstream out;
  out << "magicanimate bench: " << options.size << "x" << options.size << ", " << options.frames
      << "-frame window, " << dtype_name(options.dtype) << ", " << threads << " threads\n"
      << "models:  " << models << " (" << std::fixed << std::setprecision(0) << to_mb(weight_bytes)
      << " MB of weights, built in " << std::setprecision(1) << load_seconds << " s)\n";
  if (options.low_memory)
    out << "low memory: " << std::setprecision(0) << to_mb(file_backed_weight_bytes)
        << " MB of them memory-mapped from files, resident only while their network runs\n";
  out
      << "machine: " << cpu << ", " << cores << " cores, " << std::setprecision(1) << to_mb(memory_bytes) / 1024.0
      << " GiB; libtorch " << torch_version << "; BLAS " << blas << "\n"
      << "fp32 GEMM peak (" << options.gemm_size << "^3 at::mm): " << std::setprecision(1) << gemm_peak_gflops
      << " GFLOP/s";
  if (gemm_peak_dtype_gflops > 0)
    out << "; " << dtype_name(options.dtype) << ": " << gemm_peak_dtype_gflops << " GFLOP/s";
  out << "; fp32 3x3 convolution (oneDNN): " << conv_peak_gflops << " GFLOP/s\n\n";
  size_t width = 26;  // the longest key, at least
  for (const ComponentResult& c : components) width = std::max(width, c.key.size() + 2);
  out << std::left << std::setw(static_cast<int>(width)) << "component" << std::right << std::setw(11) << "seconds" << std::setw(11)
      << "GFLOP" << std::setw(10) << "GFLOP/s" << std::setw(8) << "%peak" << std::setw(13) << "peak RSS MB" << "\n";
  for (const ComponentResult& c : components) {
    const double gflops = c.seconds > 0 ? c.flops.total() / 1e9 / c.seconds : 0;
    out << std::left << std::setw(static_cast<int>(width)) << c.key << std::right << std::setprecision(3) << std::setw(11) << c.seconds
        << std::setprecision(1) << std::setw(11) << c.flops.total() / 1e9 << std::setw(10) << gflops << std::setw(8)
        << (gemm_peak_gflops > 0 ? 100.0 * gflops / gemm_peak_gflops : 0.0) << std::setprecision(0) << std::setw(13)
        << to_mb(c.peak_rss_bytes) << "\n";
  }
  out << "\nper-frame rows divide one call over its frames; %peak is of the GEMM peak (convolutions run\n"
      << "in oneDNN and can exceed it); peak RSS includes the resident weights and up to "
      << std::setprecision(0) << to_mb(allocation_cache_cap_bytes) << " MB of\nallocation cache; process peak "
      << to_mb(process_peak_rss_bytes) << " MB.\n";
  return out.str();
}

}  // namespace ma::bench
