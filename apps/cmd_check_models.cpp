// TEMPORARY placeholder: replaced by the real `check-models` command.
#include "apps/commands.h"
#include "util/error.h"

namespace ma::app {

Action add_check_models_command(CLI::App& app) {
  app.add_subcommand("check-models", "(not built yet)");
  return [] () -> int { throw Error("check-models: not implemented yet"); };
}

}  // namespace ma::app
