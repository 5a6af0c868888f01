// `magicanimate synth --out DIR`: a synthetic DensePose dataset (figures,
// their DensePose renders and masks) for training and evaluating a small
// model; see docs/synth.md.
#include <unistd.h>

#include <memory>
#include <string>

#include "apps/commands.h"
#include "cli/interrupt.h"
#include "cli/options.h"
#include "cli/reporter.h"
#include "synth/dataset_writer.h"

namespace ma::app {

Action add_synth_command(CLI::App& app) {
  struct Options {
    synth::SynthOptions synth;
    cli::OutputFlags output;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "synth", "Write a synthetic dataset in the TikTok layout (<clip>/images, densepose, masks): moving figures "
               "with their DensePose renders, deterministic per seed (docs/synth.md)");
  sub->add_option("--out", o->synth.out, "Folder to create (must not exist or be empty)")->required();
  sub->add_option("--clips", o->synth.clips, "Number of clips")->capture_default_str();
  sub->add_option("--frames", o->synth.frames, "Frames per clip (25 fps)")->capture_default_str();
  sub->add_option("--size", o->synth.size, "Frame width and height (multiple of 8, 32..1024)")->capture_default_str();
  sub->add_option("--seed", o->synth.seed, "Seed: the same seed writes the same files")->capture_default_str();
  cli::add_output_options(*sub, o->output);
  return [o]() -> int {
    cli::Reporter rep(cli::log_mode_from(o->output), ::isatty(STDERR_FILENO) == 1);
    synth::validate(o->synth);
    const std::atomic<bool>* stop = cli::install_interrupt_handlers();
    synth::write_dataset(
        o->synth,
        [&](const synth::ClipDone& c) {
          if (rep.mode() != cli::LogMode::json)
            rep.info("clip " + std::to_string(c.index) + "/" + std::to_string(c.clips) + " " + c.name + ": " + c.motion +
                   ", " + c.backdrop + ", " + std::to_string(c.frames) + " frames");
          rep.json({{"event", "clip"}, {"index", c.index}, {"clips", c.clips}, {"name", c.name},
                    {"motion", c.motion}, {"backdrop", c.backdrop}, {"frames", c.frames}});
        },
        stop);
    if (rep.mode() != cli::LogMode::json) rep.info("wrote " + std::to_string(o->synth.clips) + " clips to " + o->synth.out);
    rep.json({{"event", "done"}, {"out", o->synth.out}, {"clips", o->synth.clips}});
    return 0;
  };
}

}  // namespace ma::app
