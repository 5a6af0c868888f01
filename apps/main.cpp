// magicanimate: animate the person in a reference image along a DensePose
// motion video. `magicanimate <command> --help` is the manual of each command.
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "apps/commands.h"
#include "cli/help_formatter.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"magicanimate.cpp - MagicAnimate in native C++ (animate, inspect, check-models, bench, serve, train)",
               "magicanimate"};
  app.require_subcommand(1);
  // Before the subcommands are added: they take their parent's formatter.
  app.formatter(std::make_shared<ma::cli::HelpFormatter>());
  // Bad options get one line, like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "magicanimate: error: " + std::string(e.what()) + " (see --help)\n";
  });
  app.set_version_flag("--version", std::string("magicanimate.cpp 0.1.0"));
  // Every subcommand: its name (as it registers itself) and the function that adds it.
  struct Command {
    const char* name;
    ma::app::Action (*add)(CLI::App&);
  };
  const Command commands[] = {{"animate", ma::app::add_animate_command},
                              {"inspect", ma::app::add_inspect_command},
                              {"check-models", ma::app::add_check_models_command},
                              {"bench", ma::app::add_bench_command},
                              {"serve", ma::app::add_serve_command},
                              {"densepose", ma::app::add_densepose_command},
                              {"eval", ma::app::add_eval_command},
                              {"synth", ma::app::add_synth_command},
                              {"train", ma::app::add_train_command},
                              {"convert", ma::app::add_convert_command}};
  std::vector<std::pair<CLI::App*, ma::app::Action>> actions;
  for (const Command& c : commands) {
    ma::app::Action act = c.add(app);
    actions.emplace_back(app.get_subcommand(c.name), std::move(act));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, act] : actions)
      if (sub->parsed()) return act();
  } catch (const ma::Cancelled&) {
    std::cerr << "magicanimate: cancelled\n";
    return 130;
  } catch (const ma::Error& e) {
    std::cerr << "magicanimate: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "magicanimate: error: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
