// The command-line options every subcommand shares, declared once: model
// locations, engine (device, dtype, threads), log output and the sampling
// settings. Each add_* registers its options on a (sub)command and binds them
// to a plain struct whose defaults are the library's; the *_from functions turn
// the parsed strings into the library's types with one ma::Error line per
// mistake. The shape of llama.cpp's common_arg table / stable-diffusion.cpp's
// SDGenerationParams: a new subcommand (train, eval, densepose, synth) calls the
// add_* it needs and gets the same flags, help and checks.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/reporter.h"
#include "weights/model_paths.h"
#include "pipeline/animation.h"

namespace ma::cli {

// --models DIR and one override per model part.
struct ModelFlags {
  std::string models = "pretrained_models";
  ModelPathOverrides parts;
};

// Adds --models (required ones show no default) and the part options; returns --models.
CLI::Option* add_model_options(CLI::App& app, ModelFlags& flags, bool required = false);

// The part options alone (--sd, --vae, --appearance-encoder, --controlnet,
// --motion-module); `base` names the folder their defaults are in ("MODELS", "DIR").
void add_model_part_options(CLI::App& app, ModelPathOverrides& parts, const std::string& base,
                            const std::string& group = "");

// --device, --dtype, --threads as given.
struct EngineFlags {
  std::string device = "cpu";
  std::string dtype = "fp32";
  int threads = EngineOptions{}.threads;
  bool low_memory = EngineOptions{}.low_memory;
};

void add_engine_options(CLI::App& app, EngineFlags& flags, const std::string& group = "");

// Parsed and checked; throws ma::Error naming the flag.
EngineOptions engine_options_from(const EngineFlags& flags);

// --quiet and (with json_lines) --log-json.
struct OutputFlags {
  bool quiet = false, log_json = false;
};

constexpr const char* kQuietHelp = "Print nothing but errors (default: off)";

// `quiet_help` for a program whose quiet still prints its result (bench's report).
void add_output_options(CLI::App& app, OutputFlags& flags, const std::string& group = "", bool json_lines = true,
                        const std::string& quiet_help = kQuietHelp);

// Throws ma::Error when both are given.
LogMode log_mode_from(const OutputFlags& flags);

// A comma-separated flag value ("--metrics l1,psnr", "--trainable a,b",
// "--only x,y") as its items, empty ones dropped.
std::vector<std::string> split_list(const std::string& text);

// The sampling settings that every program running animations takes, bound to
// the library's AnimationParams (defaults and meaning from there): --steps,
// --scheduler, --guidance, --context, --overlap, --L. A new field of AnimationParams that a
// program should take is one more line in this function. Output size, seed and
// prompts differ per program (animate: --size/--width/--height, seed -1;
// serve: square --size) and are added by each.
void add_sampling_options(CLI::App& app, AnimationParams& params, const std::string& group);

}  // namespace ma::cli
