// `magicanimate convert IN OUT --dtype fp16`: a models folder re-stored in
// another dtype, links followed, trainer state left out (weights/convert_models.h).
#include <iostream>

#include "apps/commands.h"
#include "util/dtype.h"
#include "weights/convert_models.h"

namespace ma::app {

Action add_convert_command(CLI::App& app) {
  struct Options {
    std::string in, out, dtype = "fp16";
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "convert",
      "Copy a models folder (or a training checkpoint) with every weight file's floating tensors stored as --dtype. "
      "Symlinked parts are copied as files and trainer_state/ is left out, so the result is a self-contained "
      "folder in the release layout; the engine converts weights on load, so it runs with any --dtype.");
  cmd->add_option("IN", o->in, "Models folder or checkpoint-<step> folder")->required();
  cmd->add_option("OUT", o->out, "New folder to write (must not exist; built as OUT.partial)")->required();
  cmd->add_option("--dtype", o->dtype, "Stored dtype: fp16, bf16 or fp32")
      ->capture_default_str()->check(CLI::IsMember({"fp16", "bf16", "fp32"}));
  return [o]() -> int {
    const at::ScalarType dtype = parse_dtype(o->dtype);
    const ConvertReport r = convert_models_folder(o->in, o->out, dtype);
    std::cerr << "wrote " << o->out << ": " << r.weight_files << " weight files as " << o->dtype << ", "
              << r.other_files << " other files, " << (r.bytes_in >> 10) << " KiB -> " << (r.bytes_out >> 10) << " KiB\n";
    return 0;
  };
}

}  // namespace ma::app
