// The help layout every subcommand's --help (the manual) is printed in,
// the same whatever CLI11 version the program is built against: an option
// with a default reads "--steps N=25" (CLI11 2.1-2.3's form; 2.4 changed it
// to "--steps N [25]"), so the manual, the docs quoting it and the tests
// reading it agree on every Debian release.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace ma::cli {

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override;
};

}  // namespace ma::cli
