#include "dist/launch_env.h"

#include <algorithm>
#include <cstdlib>

#include "util/error.h"

namespace ma::dist {
namespace {

// A whole non-negative decimal number, or ma::Error naming the variable.
int parse_count(const char* name, const char* text) {
  std::string s(text);
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    throw Error("environment variable " + std::string(name) + "='" + s + "' is not a non-negative integer");
  return std::stoi(s);
}

struct Names {
  const char *launcher, *rank, *world, *local_rank, *local_world;
};

// In order of precedence; the first whose rank variable is set is used.
constexpr Names kConventions[] = {
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
};

}  // namespace

LaunchEnv parse_launch_env(const EnvLookup& env, const std::string& master_addr) {
  LaunchEnv out;
  for (const Names& n : kConventions) {
    const char* rank = env(n.rank);
    if (!rank) continue;
    const char* world = env(n.world);
    if (!world) throw Error(std::string(n.rank) + " is set but " + n.world + " is not");
    out.launcher = n.launcher;
    out.rank = parse_count(n.rank, rank);
    out.world = parse_count(n.world, world);
    if (out.world < 1) throw Error(std::string(n.world) + " must be at least 1");
    if (out.rank >= out.world)
      throw Error(std::string(n.rank) + "=" + rank + " is outside 0.." + std::to_string(out.world - 1));
    const char* local = env(n.local_rank);
    out.local_rank = local ? parse_count(n.local_rank, local) : 0;
    // SLURM_NTASKS_PER_NODE may read "2(x3)" on uneven allocations: then
    // the per-host count is unknown and 1 is the safe guess (threads only).
    const char* local_world = env(n.local_world);
    std::string lw = local_world ? local_world : "";
    out.local_world = !lw.empty() && lw.find_first_not_of("0123456789") == std::string::npos
                          ? std::max(1, parse_count(n.local_world, local_world))
                          : 1;
    break;
  }
  if (!master_addr.empty())
    out.master_addr = master_addr;
  else if (const char* addr = env("MASTER_ADDR"))
    out.master_addr = addr;
  if (const char* port = env("MASTER_PORT")) {
    out.master_port = parse_count("MASTER_PORT", port);
    if (out.master_port < 1 || out.master_port > 65535)
      throw Error("MASTER_PORT=" + std::string(port) + " is not a TCP port (1..65535)");
  }
  if (out.world > 1 && out.master_addr.empty())
    throw Error(std::string("a ") + out.launcher + " launch of " + std::to_string(out.world) +
                " processes needs rank 0's address: set MASTER_ADDR (or --master-addr)");
  return out;
}

LaunchEnv launch_env_from_process(const std::string& master_addr) {
  return parse_launch_env([](const char* name) { return static_cast<const char*>(std::getenv(name)); },
                          master_addr);
}

EnvLookup env_from_map(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace ma::dist
