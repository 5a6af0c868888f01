// Training checkpoints. OUT/checkpoint-<step>/ is a complete models folder in
// the release layout (what `animate --models` and `check-models` take):
//   stable-diffusion-v1-5/            symlink to the source's, or a folder whose
//                                     unet/ is written and other parts are links
//   sd-vae-ft-mse                     symlink (when the source has one)
//   MagicAnimate/appearance_encoder/  written (config.json + diffusion_pytorch_model.safetensors) or a link
//   MagicAnimate/densepose_controlnet/  the same
//   MagicAnimate/temporal_attention/temporal_attention.ckpt  written as a torch
//                                     zip pickle {"state_dict": {motion_modules.*}} or a link
//   magicanimate.json                 the training size, the folder's native size (animate's default)
//   trainer_state/state.json          step, seed, options, the RNG/data-order scheme
//   trainer_state/optimizer.safetensors  AdamW moments and steps by parameter name
// Untouched parts are symlinks to the canonical source paths, never copies.
// A checkpoint is built in OUT/.checkpoint-<step>.partial, fsync-ed, renamed,
// and only then does the OUT/latest symlink move to it: a run killed while
// saving leaves the previous checkpoint and `latest` as they were.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "weights/model_info.h"
#include "weights/model_paths.h"
#include "weights/tensor_map.h"

namespace ma::train {

struct TrainedPart {
  nlohmann::json config;  // written as config.json beside the weights
  TensorMap weights;
};

// Where a checkpoint's untouched parts link to, resolved through every link
// when the run starts: a resumed run reads its parts from the checkpoint it
// resumed from, which --keep may delete while the run goes on.
struct CheckpointSources {
  ModelPaths paths;                            // every path canonical
  std::string sd, vae;                         // the base model folder and the VAE folder, canonical
  std::map<std::string, std::string> sd_parts;  // tokenizer/text_encoder/scheduler/vae of sd -> canonical folder
};
CheckpointSources resolve_checkpoint_sources(const ModelPaths& paths);

struct CheckpointContent {
  CheckpointSources source;  // where untouched parts come from
  std::optional<TrainedPart> appearance_encoder, controlnet, unet;
  std::optional<TrainedPart> vae;   // written as sd-vae-ft-mse/ (the VAE stage)
  TensorMap trained_weights;        // trainer_state/weights.safetensors when not empty (the VAE stage's
                                    // uncalibrated weights, what --resume continues from)
  std::optional<TensorMap> motion_modules;
  TensorMap optimizer;
  nlohmann::json state;  // trainer_state/state.json
  std::optional<NativeSize> native_size;  // magicanimate.json: the size it was trained at
};

std::string checkpoint_name(int64_t step);  // "checkpoint-<step>"

// Writes OUT/checkpoint-<step>, moves OUT/latest to it, and then (keep > 0)
// removes all but the newest `keep` checkpoints. `on_file` (tests) is called
// after each file written into the partial folder; it may throw to simulate a
// crash. Returns the checkpoint's path.
std::string save_checkpoint(const std::string& out_dir, int64_t step, const CheckpointContent& content, int64_t keep,
                            const std::function<void(const std::string&)>& on_file = {});

// `resume` = "latest" (OUT/latest) or a checkpoint folder: the folder, checked
// to hold trainer_state/state.json (ma::Error otherwise).
std::string resolve_resume(const std::string& out_dir, const std::string& resume);

nlohmann::json read_trainer_state(const std::string& checkpoint_dir);
TensorMap read_optimizer_state(const std::string& checkpoint_dir);
TensorMap read_trained_weights(const std::string& checkpoint_dir);

}  // namespace ma::train
