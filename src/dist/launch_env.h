// Where this process sits in a multi-process run, read from the variables
// the usual launchers set: torchrun (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT), mpirun (OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK)
// and srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID). A pure function of
// the lookup it is given, so every convention is unit-tested.
#pragma once
#include <functional>
#include <map>
#include <string>

namespace ma::dist {

// TCPStore's port when a launcher gives none (torchrun's default too).
constexpr int kDefaultMasterPort = 29500;

struct LaunchEnv {
  int rank = 0, world = 1;
  int local_rank = 0, local_world = 1;  // processes on this host (for threads and GPUs)
  std::string master_addr;              // rank 0's host, TCPStore server
  int master_port = kDefaultMasterPort;
  std::string launcher = "none";        // "torchrun", "mpirun", "slurm" or "none"
};

// Returns the value of a variable, or nullptr when it is unset.
using EnvLookup = std::function<const char*(const char*)>;

// torchrun's variables win over mpirun's, which win over Slurm's. MASTER_ADDR
// and MASTER_PORT serve every launcher; `master_addr` (the --master-addr flag)
// overrides MASTER_ADDR. Throws ma::Error naming the variable that is
// malformed, a rank outside [0, world), or a world > 1 without a master address.
LaunchEnv parse_launch_env(const EnvLookup& env, const std::string& master_addr = "");

// The process's own environment.
LaunchEnv launch_env_from_process(const std::string& master_addr = "");

// A lookup over a fixed map (tests, and the launcher's children).
EnvLookup env_from_map(const std::map<std::string, std::string>& vars);

}  // namespace ma::dist
