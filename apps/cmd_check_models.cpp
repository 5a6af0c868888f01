// `magicanimate check-models DIR`: is this model folder complete and sound?
#include <iostream>

#include "apps/commands.h"
#include "cli/options.h"
#include "weights/model_info.h"
#include "weights/model_paths.h"
#include "pipeline/model_check.h"

namespace ma::app {

Action add_check_models_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "check-models",
      "Verify a model folder (the original's pretrained_models layout): every part present, every expected key "
      "with the right shape, nothing unexpected, no NaN/Inf. Exit status 0 when everything passes, 1 otherwise.");
  auto dir = std::make_shared<std::string>();
  auto overrides = std::make_shared<ModelPathOverrides>();
  auto skip_values = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Model folder (stable-diffusion-v1-5/, sd-vae-ft-mse/, MagicAnimate/)")->required();
  cli::add_model_part_options(*cmd, *overrides, "DIR");
  cmd->add_flag("--no-values", *skip_values, "Skip the NaN/Inf scan of tensor values (shapes and keys only)");
  return [=]() -> int {
    ModelPaths paths = resolve_model_paths(*dir, *overrides);
    // A broken magicanimate.json is the one-line error animate and serve would stop with.
    if (std::optional<NativeSize> native = read_native_size(*dir))
      std::cout << "native size " << native->width << "x" << native->height << "  (" << kModelInfoFile << ")\n";
    bool ok = true;
    for (const PartCheck& c : check_model_parts(paths, !*skip_values)) {
      if (c.problems.empty()) {
        std::cout << "ok    " << c.part << "  " << c.files;
        if (c.tensors) std::cout << "  (" << c.tensors << " tensors, " << c.parameters << " values)";
        std::cout << "\n";
        continue;
      }
      ok = false;
      std::cout << "FAIL  " << c.part << "  " << c.files << "\n";
      for (const auto& p : c.problems) std::cout << "      " << p << "\n";
    }
    std::cout << (ok ? "all model parts pass\n" : "some model parts fail\n");
    return ok ? 0 : 1;
  };
}

}  // namespace ma::app
