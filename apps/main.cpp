// magicanimate: animate the person in a reference image along a DensePose
// motion video. `magicanimate <command> --help` is the manual of each command.
#include <iostream>
#include <map>

#include "apps/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"magicanimate.cpp - MagicAnimate in native C++ (animate, inspect, check-models, bench, serve, train)",
               "magicanimate"};
  app.require_subcommand(1);
  // Bad options get one line, like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "magicanimate: error: " + std::string(e.what()) + " (see --help)\n";
  });
  app.set_version_flag("--version", std::string("magicanimate.cpp 0.1.0"));
  std::map<CLI::App*, ma::app::Action> actions;
  auto add = [&](ma::app::Action (*fn)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    ma::app::Action act = fn(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) actions[subs.back()] = act;
  };
  add(ma::app::add_animate_command);
  add(ma::app::add_inspect_command);
  add(ma::app::add_check_models_command);
  add(ma::app::add_bench_command);
  add(ma::app::add_serve_command);
  add(ma::app::add_train_command);
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
