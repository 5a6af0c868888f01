#include "dist/spawn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

#include "util/error.h"

namespace ma::dist {
namespace {

std::atomic<int> g_signal{0};
void remember_signal(int sig) { g_signal.store(sig); }

// This process's argv, as the kernel recorded it (NUL-separated).
std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] == '\0') {
      args.push_back(all.substr(start, i - start));
      start = i + 1;
    }
  if (args.empty()) throw Error("--nproc: cannot read this program's arguments from /proc/self/cmdline");
  return args;
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

bool is_spawned_worker() { return std::getenv(kWorkerMarker) != nullptr; }

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("--nproc: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw Error("--nproc: cannot find a free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

int spawn_local_workers(int n, const std::vector<std::string>& extra_env, int grace_s) {
  if (n < 1) throw Error("--nproc must be at least 1, got " + std::to_string(n));
  const std::vector<std::string> args = own_arguments();
  const std::string port = std::to_string(free_loopback_port());
  struct sigaction sa {};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  ::sigaction(SIGINT, &sa, &old_int);  // the workers see Ctrl-C themselves; we only wait for them
  ::sigaction(SIGTERM, &sa, &old_term);

  std::vector<pid_t> pids;
  for (int rank = 0; rank < n; ++rank) {
    // Everything the child needs is prepared before fork (only exec after).
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
    for (const char* name : {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="})
      for (auto it = env_text.begin(); it != env_text.end();)
        it = it->rfind(name, 0) == 0 ? env_text.erase(it) : it + 1;
    env_text.push_back("RANK=" + std::to_string(rank));
    env_text.push_back("WORLD_SIZE=" + std::to_string(n));
    env_text.push_back("LOCAL_RANK=" + std::to_string(rank));
    env_text.push_back("LOCAL_WORLD_SIZE=" + std::to_string(n));
    env_text.push_back("MASTER_ADDR=127.0.0.1");
    env_text.push_back("MASTER_PORT=" + port);
    env_text.push_back(std::string(kWorkerMarker) + "=1");
    env_text.insert(env_text.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp, argv;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args_copy = args;
    for (auto& a : args_copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
      for (pid_t p : pids) ::kill(p, SIGKILL);
      throw Error("--nproc: fork failed for rank " + std::to_string(rank));
    }
    if (pid == 0) {
      ::sigaction(SIGINT, &old_int, nullptr);
      ::sigaction(SIGTERM, &old_term, nullptr);
      ::execve("/proc/self/exe", argv.data(), envp.data());
      ::_exit(127);
    }
    pids.push_back(pid);
  }

  // Wait for all; the first failure stops the others.
  std::vector<int> status(n, 0);
  std::vector<bool> done(n, false);
  int remaining = n, first_failed = -1, passed_on = 0;
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  while (remaining > 0) {
    for (int r = 0; r < n; ++r) {
      if (done[r]) continue;
      if (::waitpid(pids[r], &status[r], WNOHANG) != pids[r]) continue;
      done[r] = true;
      --remaining;
      const bool ok = WIFEXITED(status[r]) && WEXITSTATUS(status[r]) == 0;
      if (!ok && first_failed < 0) {
        first_failed = r;
        for (int o = 0; o < n; ++o)
          if (!done[o]) ::kill(pids[o], SIGTERM);
        stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_s);
      }
    }
    if (g_signal.load() == SIGTERM && passed_on == 0) {
      passed_on = SIGTERM;
      for (int o = 0; o < n; ++o)
        if (!done[o]) ::kill(pids[o], SIGTERM);
    }
    if (std::chrono::steady_clock::now() > stop_deadline)
      for (int o = 0; o < n; ++o)
        if (!done[o]) ::kill(pids[o], SIGKILL);
    if (remaining > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (first_failed < 0) return 0;
  const bool cancelled = WIFEXITED(status[first_failed]) && WEXITSTATUS(status[first_failed]) == 130;
  if (cancelled || g_signal.load() != 0) throw Cancelled();
  throw Error("worker rank " + std::to_string(first_failed) + " of " + std::to_string(n) + " " +
              describe(status[first_failed]) + "; the other workers were stopped");
}

}  // namespace ma::dist
