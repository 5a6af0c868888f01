// TEMPORARY placeholder: replaced by the real `inspect` command.
#include "apps/commands.h"
#include "util/error.h"

namespace ma::app {

Action add_inspect_command(CLI::App& app) {
  app.add_subcommand("inspect", "(not built yet)");
  return [] () -> int { throw Error("inspect: not implemented yet"); };
}

}  // namespace ma::app
