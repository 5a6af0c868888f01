// The original's config files (configs/prompts/animation.yaml with its
// inference_config configs/inference/inference.yaml): model locations,
// sampling settings and the source/video pairs to animate, with the outputs the
// original script writes:
//   <out_dir>/samples/<savename>/videos/<source>_<video>.mp4
//   <out_dir>/samples/<savename>/videos/<source>_<video>/grid.mp4
//   <out_dir>/samples/<savename>/config.yaml   (the config plus random_seed)
// savename null: "<config stem>-<%Y-%m-%dT%H-%M-%S local time>". Paths in the
// files are taken as written, relative to the current folder.
#pragma once
#include <yaml-cpp/yaml.h>

#include <ctime>
#include <string>
#include <vector>

#include "weights/model_paths.h"
#include "pipeline/file_animation.h"

namespace ma::cli {

struct AnimationConfigPair {
  FileAnimation job;          // inputs, settings, outputs under savedir
  bool random_seed = false;  // the config asked for seed -1: job.params.seed was drawn
};

struct AnimationConfig {
  std::string path;
  std::string savedir;        // <out_dir>/samples/<name>
  ModelPathOverrides models;  // the pretrained_* paths and motion_module
  std::string unet_dir;       // pretrained_unet_path; empty: the SD folder's unet/
  std::vector<AnimationConfigPair> pairs;
  YAML::Node document;  // the parsed file, for the config.yaml record
};

struct ConfigLoadOptions {
  std::string out_dir = ".";             // where samples/ goes
  int64_t overlap = 4;                   // the original pipeline's context_overlap
  double fps = 25;                       // the original saves every video at 25 fps
  std::time_t now = std::time(nullptr);  // for the savename timestamp
};

// Parses and checks the file (and its inference_config). ma::Error names the
// file and key on anything missing, mistyped or unsupported.
AnimationConfig load_animation_config(const std::string& path, const ConfigLoadOptions& options = {});

// Points the UNet at pretrained_unet_path (config.json + weights in that folder).
void apply_unet_dir(ModelPaths& paths, const std::string& unet_dir);

// The config.yaml the original saves next to its videos: the config with the
// seeds used as random_seed.
std::string config_record_path(const AnimationConfig& config);
std::string config_record_text(const AnimationConfig& config);

}  // namespace ma::cli
