// Micro-benchmarks of the engine's hot spots with Google Benchmark: the GEMM
// peak, the attention paths (plain, chunked, whatever
// scaled_dot_product_attention picks), and the tiny fixture models' UNet
// window. Each reports GFLOP/s (on wall time) from the same FLOP counter as
// `magicanimate bench`. Run: build-*/bench/ma_microbench [--benchmark_filter=Attention]
#include <benchmark/benchmark.h>

#include <c10/core/InferenceMode.h>

#include "bench/flop_counter.h"
#include "bench/models.h"
#include "models/controlnet.h"
#include "models/unet.h"
#include "nn/attention.h"
#include "nn/reference_bank.h"
#include "util/cpu_allocator.h"
#include "util/threads.h"

namespace {

using ma::bench::FlopCounter;

// Runs fn once under the counter for the FLOPs, then times it per iteration.
template <class Fn>
void run_counted(benchmark::State& state, Fn&& fn) {
  double flops = 0;
  {
    FlopCounter counter;
    fn();
    flops = counter.counts().total();
  }
  for (auto _ : state) fn();
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Gemm(benchmark::State& state) {
  c10::InferenceMode guard;
  const int64_t n = state.range(0);
  at::Tensor a = at::randn({n, n}), b = at::randn({n, n}), c = at::empty({n, n});
  run_counted(state, [&] { at::mm_out(c, a, b); });
}
BENCHMARK(BM_Gemm)->Arg(512)->Arg(1024)->Arg(2048)->UseRealTime()->Unit(benchmark::kMillisecond);

// Self-attention of SD's first block with the reference bank, one frame and
// both CFG halves: 1024 queries (256x256) or 4096 (512x512), twice as many
// keys, 8 heads of 40.
enum Path { kReference, kChunked, kDefault };
void BM_Attention(benchmark::State& state) {
  c10::InferenceMode guard;
  const int64_t batch = 2, queries = state.range(1), keys = 2 * queries, heads = 8, dim = 40;
  at::Tensor q = at::randn({batch, queries, heads * dim}), k = at::randn({batch, keys, heads * dim}),
             v = at::randn({batch, keys, heads * dim});
  switch (static_cast<Path>(state.range(0))) {
    case kReference:
      run_counted(state, [&] { (void)ma::nn::attention_reference(q, k, v, heads); });
      break;
    case kChunked:
      run_counted(state, [&] { (void)ma::nn::attention_chunked(q, k, v, heads, int64_t{16} << 20); });
      break;
    case kDefault:
      run_counted(state, [&] { (void)ma::nn::scaled_dot_product_attention(q, k, v, heads); });
      break;
  }
}
BENCHMARK(BM_Attention)
    ->ArgNames({"path", "queries"})
    ->ArgsProduct({{kReference, kChunked, kDefault}, {1024, 4096}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// One 16-frame window of the tiny fixture UNet3D with CFG at 64x64.
void BM_TinyUNetWindow(benchmark::State& state) {
  c10::InferenceMode guard;
  static ma::EngineModels models =
      ma::bench::build_random_models(std::string(MA_TEST_DATA_DIR) + "/models", ma::DeviceDtype{});
  const int64_t frames = 16, lat = 8;
  at::Tensor text = at::randn({1, 77, models.unet->config().cross_attention_dim});
  at::Tensor latents = at::randn({frames, 4, lat, lat}), cond = at::rand({frames, 3, lat * 8, lat * 8});
  ma::nn::ReferenceBank bank;
  bank.start_write();
  models.appearance_encoder->forward(latents.slice(0, 0, 1), 500, text, 1, nullptr, &bank);
  bank.start_read();
  ma::ControlResiduals res = models.controlnet->forward(latents, 500, text, cond);
  at::Tensor both = at::cat({text, text}, 0), x = at::cat({latents, latents}, 0);
  run_counted(state, [&] { (void)models.unet->forward(x, 500, both, frames, &res, &bank, true); });
}
BENCHMARK(BM_TinyUNetWindow)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  ma::configure_threads(0);
  ma::enable_allocation_cache();  // as the engine runs
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
