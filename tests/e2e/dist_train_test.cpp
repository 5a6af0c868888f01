// Data-parallel training (src/train/data_parallel.*) on 2 processes over
// loopback, with the tiny fixture models and a tiny dataset made here:
// 2 ranks x batch 1 train what 1 rank x batch 2 does (weights and logged
// losses within 1e-6), both ranks end with the same weights, only rank 0
// writes, a world-2 checkpoint resumes on one process and continues the same
// sample stream, another global batch is refused, and a rank killed mid-run
// ends the other with one line within --dist-timeout. Plus the same through
// `magicanimate train --nproc 2`.
//
// Every trainer runs in a forked child (tests/dist_ranks.h), one per rank;
// the parent only compares what the children leave in files.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <ATen/Parallel.h>

#include "weights/safetensors.h"
#include "weights/weights.h"
#include "tests/cli_runner.h"
#include "tests/dist_ranks.h"
#include "tests/test_util.h"
#include "tests/train_data.h"
#include "train/trainer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

using test::TempDir;

// Two clips, so that the clip draw matters too.
void make_data(const std::string& dir) {
  test::make_tiktok_clip(dir, "a", 5, 64, 64, 4);
  test::make_tiktok_clip(dir, "b", 4, 64, 64, 5);
}

train::TrainOptions tiny(const std::string& data, const std::string& out, int stage) {
  train::TrainOptions o;
  o.sampler.stage = stage;
  o.sampler.frames = 3;
  o.sampler.ref_drop = 0.5;  // some samples drop the reference: their ranks have no appearance-encoder gradient
  o.models = test::models_dir();
  o.data = data;
  o.out = out;
  o.width = o.height = 64;  // the tiny UNet's smallest size (8x8 latents)
  o.steps = 3;
  o.save_every = 0;
  o.optim.lr = 1e-3;
  o.seed = 7;
  o.threads = 1;  // one thread per process: every kernel sums in the same order in both runs
  return o;
}

// This forked process's place in a loopback world (--dist-timeout `timeout_s`).
std::shared_ptr<dist::Communicator> join(int rank, int world, int port, int timeout_s) {
  dist::ConnectOptions c;
  c.timeout = std::chrono::seconds(timeout_s);
  return dist::connect(test::loopback_env(rank, world, port), c);
}

// Trains `options` as ranks 0..world-1 of one run, each in its own process.
// Rank r > 0 writes under OUT-rank<r> when `own_out` (so that anything it
// writes shows), else shares OUT. Each rank leaves its trainable weights in
// DUMP/rank<r>.safetensors. Returns the exit codes.
std::vector<int> train_ranks(int world, const train::TrainOptions& options, const std::string& dump, bool own_out) {
  std::vector<int> ranks;
  for (int r = 0; r < world; ++r) ranks.push_back(r);
  const test::RanksResult res = test::run_ranks(
      ranks,
      [&](int rank, int port) {
        std::shared_ptr<dist::Communicator> comm = join(rank, world, port, 60);
        train::TrainOptions o = options;
        if (own_out && rank > 0) o.out += "-rank" + std::to_string(rank);
        train::Trainer t(o, {}, comm);
        t.run();
        TensorMap weights;
        for (const auto& p : t.trainable_parameters()) weights[p.name] = p.tensor.detach().clone();
        save_safetensors((fs::path(dump) / ("rank" + std::to_string(rank) + ".safetensors")).string(), weights);
        return 0;
      },
      600);
  EXPECT_FALSE(res.timed_out);
  return res.exit_codes;
}

TensorMap dumped(const std::string& dump, int rank) {
  return load_safetensors((fs::path(dump) / ("rank" + std::to_string(rank) + ".safetensors")).string());
}

double max_abs_diff(const TensorMap& a, const TensorMap& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      ADD_FAILURE() << k << " missing";
      continue;
    }
    worst = std::max(worst, (v.to(at::kDouble) - it->second.to(at::kDouble)).abs().max().item<double>());
  }
  return worst;
}

bool identical(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a)
    if (!b.count(k) || !v.equal(b.at(k))) return false;
  return true;
}

std::vector<nlohmann::json> journal(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(fs::path(out) / "train.jsonl");
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
  return lines;
}

// The same steps, losses and gradient norms (within `tol`) and sample kinds.
void expect_same_journal(const std::string& a, const std::string& b, double tol) {
  const auto x = journal(a), y = journal(b);
  ASSERT_EQ(x.size(), y.size()) << a << " vs " << b;
  ASSERT_FALSE(x.empty());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].at("step"), y[i].at("step"));
    EXPECT_EQ(x[i].at("kind"), y[i].at("kind")) << "step " << i + 1 << ": another global batch";
    EXPECT_EQ(x[i].at("lr"), y[i].at("lr"));
    EXPECT_NEAR(x[i].at("loss").get<double>(), y[i].at("loss").get<double>(), tol) << "step " << i + 1;
    EXPECT_NEAR(x[i].at("grad_norm").get<double>(), y[i].at("grad_norm").get<double>(), tol) << "step " << i + 1;
  }
}

// Both worlds train the same weights. With 2 ranks and --grad-accum 1 every
// sample's backward is the same computation in both runs (loss weight 1/2)
// and the two gradients are added once, a + b, in either: the result is
// bit-identical here (max diff 0). The tolerance, 1e-6, leaves room
// for other reduction orders (Gloo's ring on more ranks); a wrong shard,
// weight or a missing reduce moves weights by ~lr = 1e-3 per step (AdamW's
// step is lr x sign-ish), far beyond it.
constexpr double kTol = 1e-6;

void two_ranks_equal_one(int stage) {
  at::set_num_threads(1);  // the parent forks: keep it free of thread pools
  TempDir data, work;
  make_data(data.path());
  const std::string one = work / "one", two = work / "two", dump1 = work / "dump1", dump2 = work / "dump2";
  fs::create_directories(dump1);
  fs::create_directories(dump2);
  auto o = tiny(data.path(), one, stage);
  // One rank trains the same two samples per step. Stage 1 runs a --batch as
  // one batched forward (another float summation order, ~1e-5 after AdamW's
  // sign-like steps; Stage1Batch.EqualsOneSampleAtATime checks that
  // equivalence), so its one-rank run takes them as two micro-steps of one,
  // sample by sample like each rank; stage 2 runs clips one by one anyway.
  o.batch = stage == 1 ? 1 : 2;
  o.grad_accum = stage == 1 ? 2 : 1;
  ASSERT_EQ(train_ranks(1, o, dump1, false), (std::vector<int>{0}));
  o.out = two;
  o.batch = 1;
  o.grad_accum = 1;
  ASSERT_EQ(train_ranks(2, o, dump2, true), (std::vector<int>{0, 0}));

  const TensorMap single = dumped(dump1, 0), rank0 = dumped(dump2, 0), rank1 = dumped(dump2, 1);
  EXPECT_TRUE(identical(rank0, rank1)) << "rank 1's weights differ from rank 0's";
  const double diff = max_abs_diff(single, rank0);
  EXPECT_LE(diff, kTol) << "stage " << stage;
  std::printf("stage %d: max |w(2 ranks x batch 1) - w(1 rank, 2 samples per step)| = %.3g\n", stage, diff);
  expect_same_journal(one, two, kTol);
  EXPECT_TRUE(fs::exists(fs::path(two) / "checkpoint-3"));
  EXPECT_TRUE(fs::exists(fs::path(two) / "loss.svg"));
  EXPECT_FALSE(fs::exists(two + "-rank1")) << "rank 1 wrote files";
  const auto state = nlohmann::json::parse(test::read_text_file(two + "/checkpoint-3/trainer_state/state.json"));
  EXPECT_EQ(state.at("world"), 2);
  EXPECT_EQ(state.at("samples_per_step"), 2);
  ASSERT_EQ(state.at("weights_digest").size(), 2u);
  EXPECT_EQ(state.at("weights_digest")[0], state.at("weights_digest")[1]);
}

TEST(DistTrain, Stage1TwoRanksOfBatchOneEqualOneRankOfTwoMicroSteps) { two_ranks_equal_one(1); }
TEST(DistTrain, Stage2TwoRanksOfBatchOneEqualOneRankOfBatchTwo) { two_ranks_equal_one(2); }

// The data order depends only on (seed, global sample index): a world-2
// checkpoint continued by one process with the doubled batch gives the
// straight one-process run; another global batch is refused.
TEST(DistTrain, AWorldTwoCheckpointResumesOnOneProcess) {
  at::set_num_threads(1);
  TempDir data, work;
  make_data(data.path());
  const std::string straight = work / "straight", split = work / "split", resumed = work / "resumed";
  const std::string dump = work / "dump";
  fs::create_directories(dump);
  auto o = tiny(data.path(), straight, 1);
  o.batch = 2;
  ASSERT_EQ(train_ranks(1, o, dump, false), (std::vector<int>{0}));
  auto p = o;
  p.out = split;
  p.batch = 1;
  p.steps = 2;
  ASSERT_EQ(train_ranks(2, p, dump, false), (std::vector<int>{0, 0}));

  auto q = o;
  q.out = resumed;
  q.resume = split + "/checkpoint-2";
  q.batch = 1;  // 1 sample per step instead of 2
  const test::RanksResult refused = test::run_ranks({0}, [&](int, int) {
    try {
      train::Trainer t(q);
    } catch (const Error& e) {
      const std::string m = e.what();
      std::ofstream(work / "refused.txt") << m;
      return m.find("it was trained with 2 samples per step") != std::string::npos &&
                     m.find("this run has 1") != std::string::npos && m.find('\n') == std::string::npos
                 ? 0
                 : 3;
    }
    return 4;
  });
  EXPECT_EQ(refused.exit_codes, (std::vector<int>{0})) << test::read_text_file(work / "refused.txt");
  EXPECT_FALSE(fs::exists(resumed)) << "a refused resume wrote something";

  q.batch = 2;
  ASSERT_EQ(train_ranks(1, q, dump, false), (std::vector<int>{0}));
  const fs::path a = fs::path(straight) / "checkpoint-3", b = fs::path(resumed) / "checkpoint-3";
  int compared = 0;
  for (const char* file : {"MagicAnimate/appearance_encoder/diffusion_pytorch_model.safetensors",
                           "MagicAnimate/densepose_controlnet/diffusion_pytorch_model.safetensors",
                           "trainer_state/optimizer.safetensors"}) {
    const double diff = max_abs_diff(load_weights_as_stored((a / file).string()), load_weights_as_stored((b / file).string()));
    EXPECT_LE(diff, kTol) << file;
    ++compared;
  }
  EXPECT_EQ(compared, 3);
  // The resumed run logged step 3 alone; it is the straight run's step 3.
  const auto x = journal(straight), y = journal(resumed);
  ASSERT_EQ(x.size(), 3u);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].at("step"), 3);
  EXPECT_EQ(y[0].at("kind"), x[2].at("kind"));
  EXPECT_NEAR(y[0].at("loss").get<double>(), x[2].at("loss").get<double>(), kTol);
}

// Stage 1 for 20 steps: longer than the tests that stop it early run.
train::TrainOptions long_run(const std::string& data, const std::string& out) {
  at::set_num_threads(1);
  make_data(data);
  auto o = tiny(data, out, 1);
  o.steps = 20;
  return o;
}

TEST(DistTrain, AKilledRankEndsTheOtherWithOneLine) {
  TempDir data, work;
  const auto o = long_run(data.path(), work / "out");
  const auto started = std::chrono::steady_clock::now();
  const test::RanksResult res = test::run_ranks(
      {0, 1},
      [&](int rank, int port) {
        std::shared_ptr<dist::Communicator> comm = join(rank, 2, port, 20);
        train::TrainCallbacks cb;
        if (rank == 1)
          cb.step = [](const train::StepReport& r) {
            if (r.step == 2) ::raise(SIGKILL);  // dies between two steps
          };
        try {
          train::Trainer t(o, cb, comm);
          t.run();
        } catch (const Error& e) {
          const std::string m = e.what();
          std::ofstream(work / ("error" + std::to_string(rank) + ".txt")) << m;
          return m.rfind("distributed: rank 0 of 2:", 0) == 0 && m.find('\n') == std::string::npos ? 0 : 3;
        }
        return 4;  // finished although its peer died
      },
      300);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(res.timed_out) << "a rank hung after its peer died";
  EXPECT_EQ(res.exit_codes, (std::vector<int>{0, -1})) << test::read_text_file(work / "error0.txt");
  std::printf("rank 0 stopped %.1f s after the start: %s\n", seconds, test::read_text_file(work / "error0.txt").c_str());
}

// Ctrl-C may reach one rank only (or the ranks at different steps): all
// stop at the same step, rank 0 saves it, and every rank reports cancelled.
TEST(DistTrain, ACancelSeenByOneRankStopsEveryRankAtTheSameStep) {
  TempDir data, work;
  const auto o = long_run(data.path(), work / "out");
  const test::RanksResult res = test::run_ranks(
      {0, 1},
      [&](int rank, int port) {
        std::shared_ptr<dist::Communicator> comm = join(rank, 2, port, 60);
        std::atomic<bool> cancel{false};
        int64_t last = 0;
        train::TrainCallbacks cb;
        cb.step = [&](const train::StepReport& r) {
          last = r.step;
          if (rank == 1 && r.step == 2) cancel = true;
        };
        try {
          train::Trainer t(o, cb, comm);
          t.run(&cancel);
        } catch (const Cancelled&) {
          return last == 2 ? 0 : 10 + static_cast<int>(last);
        }
        return 4;
      },
      300);
  ASSERT_FALSE(res.timed_out);
  EXPECT_EQ(res.exit_codes, (std::vector<int>{0, 0}));
  EXPECT_TRUE(fs::exists(work / "out/checkpoint-2")) << "rank 0 saves the step both stopped at";
  EXPECT_EQ(journal(work / "out").size(), 2u);
}

// End to end: `magicanimate train --nproc 2 --batch 1` = `train --batch 2`.
std::vector<std::string> train_args(const std::string& data, const std::string& out) {
  return {"train", "--stage", "1", "--models", test::models_dir(), "--data", data, "--out", out, "--size", "64",
          "--steps", "2", "--lr", "1e-3", "--ref-drop", "0.5", "--seed", "7", "--threads", "1"};
}

TEST(DistTrain, CommandLineNprocTwoEqualsTheDoubleBatch) {
  at::set_num_threads(1);
  TempDir data, work;
  make_data(data.path());
  auto one = train_args(data.path(), work / "one");
  one.insert(one.end(), {"--batch", "2"});
  const auto r1 = test::run_cli(one);
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  auto two = train_args(data.path(), work / "two");
  two.insert(two.end(), {"--batch", "1", "--nproc", "2", "--dist-timeout", "60"});
  const auto r2 = test::run_cli(two);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_NE(r2.err.find("data parallel: 2 processes, 2 samples per step"), std::string::npos) << r2.err;
  EXPECT_EQ(r2.err.find("dataset: 2 clips"), r2.err.rfind("dataset: 2 clips")) << "rank 1 printed too:\n" << r2.err;
  for (const char* file : {"MagicAnimate/appearance_encoder/diffusion_pytorch_model.safetensors",
                           "MagicAnimate/densepose_controlnet/diffusion_pytorch_model.safetensors"}) {
    const double diff = max_abs_diff(load_weights_as_stored(work / ("one/checkpoint-2/" + std::string(file))),
                                     load_weights_as_stored(work / ("two/checkpoint-2/" + std::string(file))));
    EXPECT_LE(diff, kTol) << file;
  }
  expect_same_journal(work / "one", work / "two", kTol);
}

TEST(DistTrain, HelpDocumentsTheDataOrderRule) {
  const auto r = test::run_cli({"train", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* text : {"--nproc N=1", "--dist-timeout SECONDS=300", "--master-addr HOST", "torchrun",
                           "processes x --batch x --grad-accum", "(--seed, step, slot)"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text;
}

}  // namespace
}  // namespace ma
