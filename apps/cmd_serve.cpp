// TEMPORARY placeholder: replaced by the real `serve` command.
#include "apps/commands.h"
#include "util/error.h"

namespace ma::app {

Action add_serve_command(CLI::App& app) {
  app.add_subcommand("serve", "(not built yet)");
  return [] () -> int { throw Error("serve: not implemented yet"); };
}

}  // namespace ma::app
