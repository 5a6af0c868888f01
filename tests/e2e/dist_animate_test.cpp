// `magicanimate animate` on several processes (loopback, 2 ranks, the tiny
// fixture models): the frames equal one process's bit for bit; a rank killed
// mid-run ends the run with a non-zero exit and one line naming it, within
// --dist-timeout, both under --nproc and under a torchrun-style launch.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include "cli_runner.h"
#include "dist/spawn.h"
#include "test_util.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;

// The public case, with one CPU thread per process so that every kernel sums
// in the same order in both runs.
std::vector<std::string> public_case(const std::string& frames_dir, const std::string& steps = "3") {
  return {"animate",   "--models", models_dir(), "--source",    public_case_dir() + "/source.png",
          "--motion",  public_case_dir() + "/control",  "--size",     "64",       "--steps",
          steps,       "--seed",   "1",          "--threads",   "1",        "--frames-out",
          frames_dir};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(DistAnimate, TwoRanksEqualOneRankBitForBit) {
  TempDir tmp;
  CliResult one = run_cli(with(public_case(tmp / "one"), {"--out", tmp / "one.mp4"}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  CliResult two = run_cli(with(public_case(tmp / "two"), {"--out", tmp / "two.mp4", "--nproc", "2"}));
  ASSERT_FALSE(two.timed_out);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.err.find("animating on 2 processes"), std::string::npos) << two.err;
  ASSERT_EQ(files_under(tmp / "one").size(), 20u);
  EXPECT_EQ(files_under(tmp / "two").size(), 20u) << "rank 0 alone writes the 20 frames";
  // The fixture's 20 frames pad to 32: three windows (0-15, 12-27, 24-39
  // wrapping), so rank 0 runs two and rank 1 one, and every frame's sum
  // needs the other rank's share: a missing or wrong reduce changes frames.
  for (const std::string& name : files_under(tmp / "one"))
    EXPECT_TRUE(read_text_file(tmp / ("one/" + name)) == read_text_file(tmp / ("two/" + name))) << name << " differs";
}

TEST(DistAnimate, HelpDocumentsTheDistributedOptions) {
  CliResult r = run_cli({"animate", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* text : {"--nproc N=1", "--dist-timeout SECONDS=300", "--master-addr HOST", "torchrun"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text;
}

TEST(DistAnimate, BadDistributedOptionsGiveOneLine) {
  TempDir tmp;
  for (const auto& [flag, value, expected] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--nproc", "0", "--nproc must be at least 1"}, {"--dist-timeout", "0", "--dist-timeout must be at least 1"}}) {
    CliResult r = run_cli(with(public_case(tmp / "f"), {"--out", tmp / "x.mp4", flag, value}));
    EXPECT_EQ(r.exit_code, 1) << flag;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp / "x.mp4"));
}

// The processes whose parent is `parent` (from /proc/<pid>/stat).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_text_file(e.path() / "stat");
    const size_t close = stat.rfind(')');
    int ppid = 0;
    char state = 0;
    if (close != std::string::npos && std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 &&
        ppid == parent)
      out.push_back(std::stoi(name));
  }
  return out;
}

bool has_env(pid_t pid, const std::string& entry) {
  const std::string env = read_text_file("/proc/" + std::to_string(pid) + "/environ");
  return env.find(std::string(1, '\0') + entry + '\0') != std::string::npos || env.rfind(entry + '\0', 0) == 0;
}

TEST(DistAnimate, AKilledWorkerStopsTheLauncher) {
  TempDir tmp;
  CliOptions o;
  o.timeout_s = 300;  // a hang fails the test
  bool killed = false;
  // Once rank 0 reports progress, SIGKILL the launcher's rank 1.
  o.interrupt_when = [&](const std::string& out) {
    if (killed || out.find("\"event\":\"progress\"") == std::string::npos) return false;
    for (pid_t launcher : children_of(::getpid()))
      for (pid_t worker : children_of(launcher))
        if (has_env(worker, "RANK=1")) killed = ::kill(worker, SIGKILL) == 0;
    return false;  // the launcher itself is never interrupted
  };
  // Many steps, so that the kill lands mid-run.
  CliResult r = run_cli(with(public_case(tmp / "frames", "40"),
                             {"--nproc", "2", "--dist-timeout", "20", "--log-json", "--out", tmp / "x.mp4"}),
                        o);
  ASSERT_TRUE(killed) << "rank 1 was never found to kill:\n" << r.err;
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("magicanimate: error: worker rank 1 of 2 was killed by signal 9"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "x.mp4")) << "no output from a failed run";
  EXPECT_TRUE(files_under(tmp / "frames").empty());
}

// A torchrun-style launch: each rank started on its own with the variables.
pid_t start_rank(int rank, int port, const std::vector<std::string>& args, const std::string& out,
                 const std::string& err) {
  std::vector<std::string> argv_text = {MA_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
  for (std::string v : {"RANK=" + std::to_string(rank), std::string("WORLD_SIZE=2"),
                        std::string("MASTER_ADDR=127.0.0.1"), "MASTER_PORT=" + std::to_string(port)})
    env_text.push_back(v);
  std::vector<char*> argv, envp;
  for (auto& a : argv_text) argv.push_back(a.data());
  for (auto& e : env_text) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

TEST(DistAnimate, AKilledRankEndsTheOtherWithinTheTimeout) {
  TempDir tmp;
  const int port = dist::free_loopback_port();
  const auto args =
      with(public_case(tmp / "frames", "40"), {"--dist-timeout", "20", "--log-json", "--out", tmp / "x.mp4"});
  pid_t r0 = start_rank(0, port, args, tmp / "out0", tmp / "err0");
  pid_t r1 = start_rank(1, port, args, tmp / "out1", tmp / "err1");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  bool killed = false;
  int status0 = 0;
  for (;;) {
    if (::waitpid(r0, &status0, WNOHANG) == r0) break;
    if (!killed && read_text_file(tmp / "out0").find("\"event\":\"progress\"") != std::string::npos)
      killed = ::kill(r1, SIGKILL) == 0;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(r0, SIGKILL);
      ::kill(r1, SIGKILL);
      ::waitpid(r0, &status0, 0);
      FAIL() << "rank 0 hung after rank 1 died";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int status1 = 0;
  ::waitpid(r1, &status1, 0);
  ASSERT_TRUE(killed) << read_text_file(tmp / "err0");
  EXPECT_TRUE(WIFSIGNALED(status1));
  ASSERT_TRUE(WIFEXITED(status0));
  EXPECT_EQ(WEXITSTATUS(status0), 1);
  const std::string err = read_text_file(tmp / "err0");
  EXPECT_NE(err.find("magicanimate: error: distributed: rank 0 of 2:"), std::string::npos) << err;
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_FALSE(fs::exists(tmp / "x.mp4"));
}

}  // namespace
}  // namespace ma::test
