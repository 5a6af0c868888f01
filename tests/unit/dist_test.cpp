// src/dist: the launchers' variables (torchrun, mpirun, Slurm) and the c10d
// communicator over loopback with two processes: collectives, bucketed
// gradient averaging, and a peer that dies or never arrives ending the other
// with one "distributed:" error instead of a hang.
#include <gtest/gtest.h>

#include "dist/communicator.h"
#include "dist/launch_env.h"
#include "tests/dist_ranks.h"
#include "util/error.h"

namespace ma::dist {
namespace {

LaunchEnv parse(const std::map<std::string, std::string>& vars, const std::string& addr = "") {
  return parse_launch_env(env_from_map(vars), addr);
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    parse(vars);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Where the launch puts this process: launcher, rank/world, local rank/world.
void expect_place(const LaunchEnv& e, const std::string& launcher, int rank, int world, int local_rank,
                  int local_world) {
  EXPECT_EQ(e.launcher, launcher);
  EXPECT_EQ(e.rank, rank);
  EXPECT_EQ(e.world, world);
  EXPECT_EQ(e.local_rank, local_rank);
  EXPECT_EQ(e.local_world, local_world);
}

TEST(LaunchEnv, NoLauncherIsOneProcess) {
  expect_place(parse({}), "none", 0, 1, 0, 1);
}

TEST(LaunchEnv, Torchrun) {
  LaunchEnv e = parse({{"RANK", "3"},
                       {"WORLD_SIZE", "4"},
                       {"LOCAL_RANK", "1"},
                       {"LOCAL_WORLD_SIZE", "2"},
                       {"MASTER_ADDR", "node7"},
                       {"MASTER_PORT", "29400"}});
  expect_place(e, "torchrun", 3, 4, 1, 2);
  EXPECT_EQ(e.master_addr, "node7");
  EXPECT_EQ(e.master_port, 29400);
}

TEST(LaunchEnv, Mpirun) {
  LaunchEnv e = parse({{"OMPI_COMM_WORLD_RANK", "1"},
                       {"OMPI_COMM_WORLD_SIZE", "2"},
                       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                       {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                       {"MASTER_ADDR", "10.0.0.1"}});
  expect_place(e, "mpirun", 1, 2, 1, 2);
  EXPECT_EQ(e.master_port, kDefaultMasterPort);
}

TEST(LaunchEnv, SlurmWithTheMasterAddressFromTheFlag) {
  std::map<std::string, std::string> vars = {{"SLURM_PROCID", "5"},
                                             {"SLURM_NTASKS", "8"},
                                             {"SLURM_LOCALID", "1"},
                                             {"SLURM_NTASKS_PER_NODE", "4"},
                                             {"MASTER_ADDR", "ignored-by-the-flag"}};
  LaunchEnv e = parse(vars, "gpu-node-01");
  expect_place(e, "slurm", 5, 8, 1, 4);
  EXPECT_EQ(e.master_addr, "gpu-node-01");
  // Uneven allocations write "2(x3)": the per-host count is then unknown.
  vars["SLURM_NTASKS_PER_NODE"] = "2(x3)";
  EXPECT_EQ(parse(vars, "h").local_world, 1);
}

TEST(LaunchEnv, TorchrunWinsOverSlurm) {
  // torchrun inside an srun allocation: its own variables describe the run.
  LaunchEnv e = parse({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"RANK", "1"}, {"WORLD_SIZE", "2"},
                       {"MASTER_ADDR", "a"}});
  expect_place(e, "torchrun", 1, 2, 0, 1);
}

TEST(LaunchEnv, MistakesNameTheVariable) {
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}}).find("RANK=2 is outside 0..1"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK='x'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(error_of({{"MASTER_PORT", "70000"}}).find("MASTER_PORT=70000"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}}).find("at least 1"), std::string::npos);
}

TEST(Communicator, WorldOfOneIsTheIdentity) {
  auto comm = connect(parse({}));
  at::Tensor t = at::arange(4, at::kFloat);
  comm->allreduce_sum(t);
  comm->broadcast(t, 0);
  comm->barrier();
  EXPECT_TRUE(at::equal(t, at::arange(4, at::kFloat)));
  at::Tensor g = at::ones({3});
  allreduce_gradients({g}, *comm);
  EXPECT_TRUE(at::equal(g, at::ones({3})));
}

ConnectOptions quick(int seconds) {
  ConnectOptions o;
  o.timeout = std::chrono::seconds(seconds);
  return o;
}

#define RANK_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::cerr << "rank check failed: " #cond " (line " << __LINE__ << ")\n"; \
      return 1;                                                                \
    }                                                                          \
  } while (0)

TEST(Communicator, TwoProcessesAllreduceBroadcastBarrier) {
  test::RanksResult r = test::run_ranks({0, 1}, [](int rank, int port) {
    auto comm = connect(test::loopback_env(rank, 2, port), quick(60));
    RANK_CHECK(comm->rank() == rank && comm->world() == 2);
    at::Tensor t = at::full({2, 3}, rank + 1.0);
    comm->allreduce_sum(t);
    RANK_CHECK(at::equal(t, at::full({2, 3}, 3.0)));
    // A non-contiguous view is reduced in place too.
    at::Tensor base = at::full({3, 4}, rank + 1.0);
    at::Tensor column = base.select(1, 2);
    comm->allreduce_sum(column);
    RANK_CHECK(at::equal(base.select(1, 2), at::full({3}, 3.0)) && base[0][0].item<double>() == rank + 1.0);
    at::Tensor b = at::full({4}, rank == 1 ? 7.0 : -1.0, at::kLong);
    comm->broadcast(b, 1);
    RANK_CHECK(at::equal(b, at::full({4}, 7, at::kLong)));
    comm->barrier();
    return 0;
  });
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_codes, (std::vector<int>{0, 0}));
}

TEST(Communicator, GradientsAveragedInBuckets) {
  test::RanksResult r = test::run_ranks({0, 1}, [](int rank, int port) {
    auto comm = connect(test::loopback_env(rank, 2, port), quick(60));
    // Three float tensors (with a 64-byte bucket: several buckets, one split
    // between tensors), a double one (its own bucket) and a parameter without
    // a gradient.
    const double v = rank == 0 ? 1.0 : 4.0;
    std::vector<at::Tensor> grads = {at::full({3, 2}, v), at::full({10}, 2 * v), at::Tensor(),
                                     at::full({2}, v, at::kDouble), at::full({5}, -v)};
    allreduce_gradients(grads, *comm, /*bucket_bytes=*/64);
    RANK_CHECK(at::equal(grads[0], at::full({3, 2}, 2.5)));
    RANK_CHECK(at::equal(grads[1], at::full({10}, 5.0)));
    RANK_CHECK(!grads[2].defined());
    RANK_CHECK(at::equal(grads[3], at::full({2}, 2.5, at::kDouble)));
    RANK_CHECK(at::equal(grads[4], at::full({5}, -2.5)));
    // average = false: the plain sum (the trainer's losses already carry 1/N).
    std::vector<at::Tensor> summed = {at::full({7}, v)};
    allreduce_gradients(summed, *comm, /*bucket_bytes=*/64, /*average=*/false);
    RANK_CHECK(at::equal(summed[0], at::full({7}, 5.0)));
    return 0;
  });
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_codes, (std::vector<int>{0, 0}));
}

// Exit codes of the surviving rank: 0 when it got the expected error.
int expect_distributed_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    const std::string what = e.what();
    std::cerr << "(expected) " << what << "\n";
    return what.rfind("distributed: rank 0 of 2", 0) == 0 && what.find('\n') == std::string::npos ? 0 : 3;
  }
  return 4;  // no error at all
}

TEST(Communicator, ADeadPeerEndsTheOtherWithOneLine) {
  test::RanksResult r = test::run_ranks({0, 1}, [](int rank, int port) {
    auto comm = connect(test::loopback_env(rank, 2, port), quick(5));
    comm->barrier();
    if (rank == 1) ::_exit(0);  // gone without a word: what a crashed or killed rank looks like
    at::Tensor t = at::ones({16});
    return expect_distributed_error([&] {
      for (int i = 0; i < 3; ++i) comm->allreduce_sum(t);
    });
  });
  ASSERT_FALSE(r.timed_out) << "the surviving rank hung";
  EXPECT_EQ(r.exit_codes, (std::vector<int>{0, 0}));
}

TEST(Communicator, APeerThatNeverArrivesEndsTheRendezvous) {
  // Only rank 0 of 2 starts: the store waits for rank 1 for 2 s, then fails.
  test::RanksResult r = test::run_ranks({0}, [](int rank, int port) {
    return expect_distributed_error([&] {
      try {
        connect(test::loopback_env(rank, 2, port), quick(2));
      } catch (const Error& e) {
        if (std::string(e.what()).find("only 1 of 2 processes arrived") == std::string::npos) return;  // -> 4
        throw;
      }
    });
  });
  ASSERT_FALSE(r.timed_out) << "rank 0 hung waiting for rank 1";
  EXPECT_EQ(r.exit_codes, (std::vector<int>{0}));
}

TEST(Communicator, ASilentPeerTimesOutTheCollective) {
  // Rank 1 is alive but never joins the all-reduce: Gloo's timeout ends it.
  test::RanksResult r = test::run_ranks({0, 1}, [](int rank, int port) {
    auto comm = connect(test::loopback_env(rank, 2, port), quick(2));
    if (rank == 1) {
      std::this_thread::sleep_for(std::chrono::seconds(8));
      ::_exit(0);
    }
    at::Tensor t = at::ones({16});
    return expect_distributed_error([&] { comm->allreduce_sum(t); });
  });
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_codes, (std::vector<int>{0, 0}));
}

}  // namespace
}  // namespace ma::dist
