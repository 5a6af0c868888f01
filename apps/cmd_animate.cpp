// TEMPORARY placeholder: replaced by the real `animate` command.
#include "apps/commands.h"
#include "util/error.h"

namespace ma::app {

Action add_animate_command(CLI::App& app) {
  app.add_subcommand("animate", "(not built yet)");
  return [] () -> int { throw Error("animate: not implemented yet"); };
}

}  // namespace ma::app
