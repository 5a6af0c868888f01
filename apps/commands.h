// Each subcommand of the `magicanimate` program lives in its own file and
// registers itself on the CLI11 app; main.cpp only wires them together.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace ma::app {

// A subcommand's action; returns the process exit status.
using Action = std::function<int()>;

// Each returns the action to run when its subcommand was chosen.
Action add_animate_command(CLI::App& app);
Action add_inspect_command(CLI::App& app);
Action add_check_models_command(CLI::App& app);
Action add_bench_command(CLI::App& app);
Action add_serve_command(CLI::App& app);
Action add_densepose_command(CLI::App& app);
Action add_eval_command(CLI::App& app);
Action add_synth_command(CLI::App& app);
Action add_train_command(CLI::App& app);
Action add_convert_command(CLI::App& app);

}  // namespace ma::app
