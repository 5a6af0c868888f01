// TEMPORARY placeholder: replaced by the real `bench` command.
#include "apps/commands.h"
#include "util/error.h"

namespace ma::app {

Action add_bench_command(CLI::App& app) {
  app.add_subcommand("bench", "(not built yet)");
  return [] () -> int { throw Error("bench: not implemented yet"); };
}

}  // namespace ma::app
