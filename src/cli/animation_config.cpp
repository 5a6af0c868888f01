#include "cli/animation_config.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "util/error.h"

namespace fs = std::filesystem;

namespace ma::cli {
namespace {

// Key lookups that turn yaml-cpp's exceptions into one line naming file and key.
class YamlFile {
 public:
  explicit YamlFile(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error("config " + path + " does not exist or is not a file");
    try {
      root_ = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      throw Error("cannot parse config " + path + ": " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
    }
    if (!root_.IsMap()) throw Error("config " + path + " is not a YAML mapping of settings");
  }

  const YAML::Node& root() const { return root_; }
  bool has(const std::string& key) const { return root_[key] && !root_[key].IsNull(); }
  YAML::Node node(const std::string& key) const { return root_[key]; }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw Error("config " + path_ + ": " + key + " " + problem);
  }

  template <typename T>
  T get(const std::string& key) const {
    if (!has(key)) fail(key, "is missing");
    return as<T>(root_[key], key);
  }

  template <typename T>
  T get(const std::string& key, const T& fallback) const {
    return has(key) ? as<T>(root_[key], key) : fallback;
  }

  template <typename T>
  T as(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(key, "must be a single value");
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      fail(key, "has the wrong type: '" + n.Scalar() + "'");
    }
  }

  // A list of strings; a single string counts as a one-element list.
  std::vector<std::string> strings(const std::string& key) const {
    if (!has(key)) fail(key, "is missing");
    YAML::Node n = root_[key];
    if (n.IsScalar()) return {n.Scalar()};
    if (!n.IsSequence()) fail(key, "must be a list of paths");
    std::vector<std::string> out;
    for (const auto& item : n) out.push_back(as<std::string>(item, key));
    return out;
  }

 private:
  std::string path_;
  YAML::Node root_;
};

// A seed as the original accepts it: -1 (draw one) or any unsigned 64-bit value.
std::pair<uint64_t, bool> parse_seed(const YamlFile& file, const YAML::Node& n) {
  std::string text = file.as<std::string>(n, "seed");
  if (text == "-1") return {0, true};
  try {
    size_t used = 0;
    if (!text.empty() && text[0] != '-') {
      unsigned long long v = std::stoull(text, &used, 10);
      if (used == text.size()) return {static_cast<uint64_t>(v), false};
    }
  } catch (const std::exception&) {
  }
  file.fail("seed", "must be -1 or a non-negative integer, got '" + text + "'");
}

// The original builds its DDIM scheduler from inference_config; the engine
// implements exactly the released settings, so other values are refused rather
// than silently ignored.
void check_inference_config(const std::string& path) {
  YamlFile file(path);
  if (file.has("noise_scheduler_kwargs")) {
    YAML::Node s = file.node("noise_scheduler_kwargs");
    auto number_is = [&](const char* key, double want) {
      if (!s[key] || s[key].IsNull()) return;
      double got = file.as<double>(s[key], std::string("noise_scheduler_kwargs.") + key);
      if (std::abs(got - want) > 1e-12 * std::max(1.0, std::abs(want)))
        file.fail(std::string("noise_scheduler_kwargs.") + key,
                  "is " + s[key].Scalar() + "; only the released value " + YAML::Node(want).Scalar() + " is supported");
    };
    number_is("beta_start", 0.00085);
    number_is("beta_end", 0.012);
    number_is("num_train_timesteps", 1000);
    if (s["beta_schedule"] && !s["beta_schedule"].IsNull() &&
        file.as<std::string>(s["beta_schedule"], "noise_scheduler_kwargs.beta_schedule") != "linear")
      file.fail("noise_scheduler_kwargs.beta_schedule", "is not supported (only 'linear')");
    if (s["prediction_type"] && !s["prediction_type"].IsNull() &&
        file.as<std::string>(s["prediction_type"], "noise_scheduler_kwargs.prediction_type") != "epsilon")
      file.fail("noise_scheduler_kwargs.prediction_type", "is not supported (only 'epsilon')");
  }
}

// diffusers' from_pretrained(path, subfolder=...) first looks in `path` itself,
// then in path/subfolder; the original passes subfolder="appearance_encoder".
std::string with_diffusers_subfolder(const std::string& path, const std::string& subfolder) {
  std::error_code ec;
  if (!fs::exists(fs::path(path) / "config.json", ec) && fs::exists(fs::path(path) / subfolder / "config.json", ec))
    return (fs::path(path) / subfolder).string();
  return path;
}

std::string name_before_first_dot(const std::string& path) {
  std::string base = fs::path(path).filename().string();
  return base.substr(0, base.find('.'));
}

// The original drops ".mp4" from the video's file name; folders of frames keep their name.
std::string video_name(const std::string& path) {
  fs::path p(path);
  if (p.filename().empty()) p = p.parent_path();
  std::error_code ec;
  if (fs::is_directory(p, ec)) return p.filename().string();
  return p.stem().string();
}

std::string timestamp(std::time_t now) {
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H-%M-%S", &local);
  return text;
}

}  // namespace

AnimationConfig load_animation_config(const std::string& path, const ConfigLoadOptions& options) {
  YamlFile file(path);
  AnimationConfig cfg;
  cfg.path = path;
  cfg.document = file.root();

  cfg.models.sd = file.get<std::string>("pretrained_model_path");
  cfg.models.vae = file.get<std::string>("pretrained_vae_path", (fs::path(cfg.models.sd) / "vae").string());
  cfg.models.controlnet = file.get<std::string>("pretrained_controlnet_path");
  cfg.models.appearance_encoder =
      with_diffusers_subfolder(file.get<std::string>("pretrained_appearance_encoder_path"), "appearance_encoder");
  cfg.models.motion_module = file.get<std::string>("motion_module");
  cfg.unet_dir = file.get<std::string>("pretrained_unet_path", "");

  std::string fusion = file.get<std::string>("fusion_blocks", "midup");
  if (fusion != "midup") file.fail("fusion_blocks", "'" + fusion + "' is not supported (only 'midup')");
  if (file.has("inference_config")) check_inference_config(file.get<std::string>("inference_config"));

  AnimationParams params;
  const int64_t size = file.get<int64_t>("size");
  params.width = params.height = size;
  params.steps = file.get<int64_t>("steps");
  if (file.has("num_actual_inference_steps") && file.get<int64_t>("num_actual_inference_steps") != params.steps)
    file.fail("num_actual_inference_steps", "different from steps is not supported");
  params.guidance = file.get<double>("guidance_scale");
  // L is what the control video is padded to a multiple of (animation.py:193-194),
  // not the window: the original's script calls the pipeline without
  // context_frames, so its windows are always the default 16.
  params.length_multiple = file.get<int64_t>("L");
  params.overlap = options.overlap;
  // The original only applies offset together with max_length.
  const bool has_max = file.has("max_length");
  const int64_t max_frames = has_max ? file.get<int64_t>("max_length") : -1;
  const int64_t offset = has_max ? file.get<int64_t>("offset", 0) : 0;
  if (has_max && max_frames < 1) file.fail("max_length", "must be at least 1 or null");
  if (offset < 0) file.fail("offset", "must be 0 or more");
  try {
    validate_params(params);
  } catch (const Error& e) {
    throw Error("config " + path + ": " + e.what());
  }

  std::vector<std::string> sources = file.strings("source_image");
  std::vector<std::string> videos = file.strings("video_path");
  std::vector<std::pair<uint64_t, bool>> seeds;
  YAML::Node seed_node = file.node("seed");
  if (!seed_node || seed_node.IsNull()) {
    seeds.push_back({0, true});
  } else if (seed_node.IsSequence()) {
    for (const auto& s : seed_node) seeds.push_back(parse_seed(file, s));
    if (seeds.empty()) file.fail("seed", "is an empty list");
  } else {
    seeds.push_back(parse_seed(file, seed_node));
  }
  // One seed serves every source; otherwise pairs stop at the shortest list (zip).
  if (seeds.size() == 1) seeds.assign(sources.size(), seeds.front());
  const size_t count = std::min({sources.size(), videos.size(), seeds.size()});
  if (count == 0) file.fail("source_image", "and video_path list no pair to animate");

  std::string name = file.get<std::string>("savename", "");
  if (!file.has("savename")) name = fs::path(path).stem().string() + "-" + timestamp(options.now);
  cfg.savedir = (fs::path(options.out_dir) / "samples" / name).lexically_normal().string();
  const bool individual = file.get<bool>("save_individual_videos", false);

  for (size_t i = 0; i < count; ++i) {
    AnimationConfigPair pair;
    FileAnimation& job = pair.job;
    job.source = sources[i];
    job.motion = videos[i];
    job.params = params;
    pair.random_seed = seeds[i].second;
    job.params.seed = pair.random_seed ? random_seed() : seeds[i].first;
    job.max_frames = max_frames;
    job.offset = offset;
    job.fps = options.fps;
    const std::string stem = name_before_first_dot(job.source) + "_" + video_name(job.motion);
    const fs::path videos_dir = fs::path(cfg.savedir) / "videos";
    job.video_out = (videos_dir / (stem + ".mp4")).string();
    job.grid_out = (videos_dir / stem / "grid.mp4").string();
    if (individual) {
      job.control_out = (videos_dir / stem / "ctrl.mp4").string();
      job.source_out = (videos_dir / stem / "orig.mp4").string();
    }
    cfg.pairs.push_back(std::move(pair));
  }
  return cfg;
}

void apply_unet_dir(ModelPaths& paths, const std::string& unet_dir) {
  if (unet_dir.empty()) return;
  const fs::path dir(unet_dir);
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec))
    throw Error("pretrained_unet_path " + unet_dir + " has no config.json");
  for (const char* name : {"diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin",
                           "pytorch_model.bin", "diffusion_pytorch_model.fp16.safetensors"}) {
    if (fs::is_regular_file(dir / name, ec)) {
      paths.unet_config = (dir / "config.json").string();
      paths.unet_weights = (dir / name).string();
      return;
    }
  }
  throw Error("pretrained_unet_path " + unet_dir + " has no diffusion_pytorch_model.safetensors or .bin weights");
}

std::string config_record_path(const AnimationConfig& config) {
  return (fs::path(config.savedir) / "config.yaml").string();
}

std::string config_record_text(const AnimationConfig& config) {
  YAML::Node doc = YAML::Clone(config.document);
  std::vector<unsigned long long> seeds;
  for (const auto& pair : config.pairs) seeds.push_back(pair.job.params.seed);
  doc["random_seed"] = seeds;
  YAML::Emitter out;
  out << doc;
  return std::string(out.c_str()) + "\n";
}

}  // namespace ma::cli
