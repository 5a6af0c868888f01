#include "cli/help_formatter.h"

#include <sstream>

namespace ma::cli {

// " TYPE=default", then the markers CLI11 adds itself (repeats, REQUIRED,
// environment variable, Needs/Excludes), so only the default's form differs
// from the library's own formatter.
std::string HelpFormatter::make_option_opts(const CLI::Option* opt) const {
  if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
  std::ostringstream out;
  if (opt->get_type_size() != 0) {
    if (!opt->get_type_name().empty()) out << " " << get_label(opt->get_type_name());
    if (!opt->get_default_str().empty()) out << "=" << opt->get_default_str();
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size)
      out << " ...";
    else if (opt->get_expected_min() > 1)
      out << " x " << opt->get_expected();
    if (opt->get_required()) out << " " << get_label("REQUIRED");
  }
  if (!opt->get_envname().empty()) out << " (" << get_label("Env") << ":" << opt->get_envname() << ")";
  const auto list = [&](const char* label, const auto& options) {
    if (options.empty()) return;
    out << " " << get_label(label) << ":";
    for (const CLI::Option* o : options) out << " " << o->get_name();
  };
  list("Needs", opt->get_needs());
  list("Excludes", opt->get_excludes());
  return out.str();
}

}  // namespace ma::cli
