// `magicanimate animate`: one reference image + one DensePose motion video ->
// an animated MP4 (and optionally its frames and the original's comparison
// grid), or every source/video pair of one of the original's config files.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>

#include "apps/animate_dataset.h"
#include "apps/commands.h"
#include "apps/dist_options.h"
#include "cli/animation_config.h"
#include "cli/interrupt.h"
#include "cli/options.h"
#include "cli/reporter.h"
#include "weights/model_info.h"
#include "weights/model_paths.h"
#include "pipeline/animation.h"
#include "pipeline/file_animation.h"
#include "util/staged_outputs.h"
#include "pose/extracted_motion.h"
#include "util/bf16.h"
#include "util/error.h"
#include "util/threads.h"

namespace ma::app {
namespace {

struct AnimateOptions {
  std::string config, out_dir = ".";
  cli::ModelFlags models;
  std::string source, motion, out, frames_out, grid;
  std::string extract_pose, pose_out;  // --motion is a raw video: DensePose weights; keep its motion video there
  std::string dataset, videos;         // batch form over a TikTok-layout dataset (--out is a folder)
  AnimationParams params;  // the sampling settings; width/height come from the three below
  int64_t size = AnimationParams{}.width, width = 0, height = 0;
  int64_t seed = static_cast<int64_t>(AnimationParams{}.seed);  // -1: random
  int64_t max_frames = 0, offset = 0;
  double fps = 0;
  cli::EngineFlags engine;
  cli::OutputFlags output;
  DistOptions dist;
};

// The parsed options, for "was this flag given" checks.
struct AnimateFlags {
  CLI::Option *config, *out_dir, *models, *size, *width, *height;
  std::vector<CLI::Option*> flags_mode_only;  // meaningless with --config
};

// Options an original config file sets itself (refused with --config).
const char* const kFlagsModeOnly[] = {"--source", "--motion", "--out",   "--frames-out", "--grid", "--pose-out",
                                      "--max-frames", "--offset", "--size", "--width",    "--height",
                                      "--steps",  "--guidance", "--seed", "--context",
                                      "--L",      "--dataset", "--videos"};

const char* kFooter = R"(Modes:
  Flags:  --source, --motion and --out are required; every other option has a default.
  Config: --config FILE runs every source_image/video_path pair of one of the original's
          configs/prompts/animation.yaml files (paths in it are relative to the current
          folder; its inference_config is checked) and writes what the original writes:
            OUT_DIR/samples/<savename>/videos/<source>_<video>.mp4
            OUT_DIR/samples/<savename>/videos/<source>_<video>/grid.mp4
            (ctrl.mp4 and orig.mp4 there too with save_individual_videos: true)
            OUT_DIR/samples/<savename>/config.yaml  (the config plus the seeds used)
          savename null -> "<config name>-<YYYY-MM-DDTHH-MM-SS>" (local time). <source> is
          the image name up to its first dot, <video> the video name without extension.
          seed: one value serves every pair, a list gives one per pair, -1 draws a random
          seed; L sets --L (the padding multiple; the window is 16, the pipeline's default,
          which the original's script never changes); offset applies only when max_length is
          set; videos are written at 25 fps like the original (--fps overrides). --models and
          the model part options override the yaml's pretrained_* paths; --overlap, --scheduler,
          --deep-cache, --prompt, --negative-prompt, --device, --threads, --dtype, --quiet and --log-json apply; other
          options are refused.

Dataset: --dataset DIR --out OUT_DIR animates every video of a TikTok-layout dataset
  (<video>/images/<frame> + <video>/densepose/<frame>) as DisCo evaluates: the reference is
  the video's first frame, the motion its DensePose frames, both centre-cropped to the output
  aspect; --videos A,B (or a file with one name per line) picks some. Each result is written
  as OUT_DIR/<video>/<frame>.png, named as the images/ frames: the layout of
  `eval --prepare-gt`, so `eval --pred OUT_DIR --gt GT_DIR` pairs them. Every video uses the
  same --seed; --max-frames/--offset apply to each (the reference stays frame 0).

Inputs: the reference image (PNG/JPEG/WebP/BMP) and every motion frame (MP4/WebM/GIF or a
  folder of numbered frames, sorted by name) are resized to the output size with Pillow's
  default bicubic filter, like the original. The motion is padded with its last frame to a
  multiple of --L internally; the result has one frame per motion frame.
Outputs: H.264 MP4 at the motion video's frame rate (frame folders: 25) unless --fps.
  Files are written under temporary names and renamed when everything is complete: a failed
  or interrupted run leaves no partial output. --frames-out writes 0000.png, 0001.png, ...
  --grid writes source | control | result side by side with 2-pixel black padding.
Progress: a bar on stderr when it is a terminal, one line per denoising step otherwise.
  --log-json prints one JSON object per line on stdout instead ("event": config, loading,
  info, start, progress, output, done, finished, error, cancelled); errors also go to stderr
  as one line. --quiet prints nothing but that error line.
Ctrl-C / SIGTERM: stops after the current window, removes partial outputs, exit status 130.
  A second Ctrl-C quits at once.
Several processes: --nproc N here, or torchrun / mpirun / srun (their variables are read): each
  step's windows are split across the processes and their predictions all-reduced (c10d: Gloo,
  NCCL on CUDA); the frames equal one process's; only rank 0 writes. See docs/distributed.md.
Exit status: 0 done, 1 error (one line on stderr), 130 cancelled.)";

// A bad --device/--dtype/--threads fails before any input is read.
EngineOptions check_mode_options(const AnimateOptions& o, const AnimateFlags& f) {
  (void)cli::log_mode_from(o.output);
  EngineOptions engine = cli::engine_options_from(o.engine);
  if (f.size->count() > 0 && (f.width->count() > 0 || f.height->count() > 0))
    throw Error("--size cannot be combined with --width/--height (use one or the other)");
  if (!o.config.empty()) {
    if (!o.extract_pose.empty()) throw Error("--extract-pose cannot be used with --config (its videos are motion videos)");
    for (CLI::Option* opt : f.flags_mode_only)
      if (opt->count() > 0) throw Error(opt->get_name() + " cannot be used with --config (the config file sets it)");
    return engine;
  }
  if (f.out_dir->count() > 0) throw Error("--out-dir only applies to --config (use --out)");
  if (!o.videos.empty() && o.dataset.empty()) throw Error("--videos needs --dataset");
  if (!o.dataset.empty()) {
    for (const auto& [given, name] : {std::pair<bool, const char*>{!o.source.empty(), "--source"},
                                      {!o.motion.empty(), "--motion"},
                                      {!o.extract_pose.empty(), "--extract-pose"},
                                      {!o.frames_out.empty(), "--frames-out"},
                                      {!o.grid.empty(), "--grid"},
                                      {!o.pose_out.empty(), "--pose-out"}})
      if (given) throw Error(std::string(name) + " cannot be used with --dataset (each video gives its own)");
    if (o.out.empty()) throw Error("--dataset needs --out DIR (one folder of frames per video is written there)");
    return engine;
  }
  if (o.source.empty()) throw Error("--source is required (or give --config)");
  if (o.motion.empty()) throw Error("--motion is required (or give --config)");
  if (o.out.empty()) throw Error("--out is required (or give --config)");
  if (!o.pose_out.empty() && o.extract_pose.empty()) throw Error("--pose-out needs --extract-pose");
  return engine;
}

// The output size of the flags and dataset modes: --size/--width/--height
// when given, else the models folder's native size, else --size's default.
// Returns how it was settled, for the log line.
std::string settle_size(const AnimateOptions& o, const AnimateFlags& f, AnimationParams& p) {
  p.width = f.width->count() > 0 ? o.width : o.size;
  p.height = f.height->count() > 0 ? o.height : o.size;
  if (f.size->count() > 0 || f.width->count() > 0 || f.height->count() > 0) return "";
  if (std::optional<NativeSize> native = read_native_size(o.models.models)) {
    p.width = native->width;
    p.height = native->height;
    return " (the models' native size)";
  }
  return " (the default size)";
}

FileAnimation job_from_flags(const AnimateOptions& o, const AnimateFlags& f, std::string* size_note = nullptr) {
  FileAnimation job;
  job.source = o.source;
  job.motion = o.motion;
  AnimationParams& p = job.params;
  p = o.params;
  const std::string note = settle_size(o, f, p);
  if (size_note) *size_note = note;
  if (o.seed < -1) throw Error("--seed must be -1 (random) or a non-negative integer, got " + std::to_string(o.seed));
  p.seed = o.seed == -1 ? random_seed() : static_cast<uint64_t>(o.seed);
  if (o.max_frames < 0) throw Error("--max-frames must be 0 (all) or more, got " + std::to_string(o.max_frames));
  job.max_frames = o.max_frames == 0 ? -1 : o.max_frames;
  job.offset = o.offset;
  job.fps = o.fps;
  job.video_out = o.out;
  job.grid_out = o.grid;
  job.frames_out = o.frames_out;
  return job;
}

// Per-part flags win over whatever the base set says.
ModelPathOverrides merge_parts(ModelPathOverrides base, const ModelPathOverrides& flags) {
  if (!flags.sd.empty()) base.sd = flags.sd;
  if (!flags.vae.empty()) base.vae = flags.vae;
  if (!flags.appearance_encoder.empty()) base.appearance_encoder = flags.appearance_encoder;
  if (!flags.controlnet.empty()) base.controlnet = flags.controlnet;
  if (!flags.motion_module.empty()) base.motion_module = flags.motion_module;
  return base;
}

std::string format_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

class AnimateRun {
 public:
  // `size_note` follows the size in the log line: how it was settled ("" when given).
  AnimateRun(const EngineOptions& engine, cli::Reporter& reporter, const std::atomic<bool>* cancel, const DistRun& dist,
             std::string size_note = "")
      : engine_(engine), rep_(reporter), cancel_(cancel), dist_(dist), size_note_(std::move(size_note)) {}

  // Decodes the first inputs before anything else (a bad image or video fails
  // fast and names itself), then finds and loads the models once for all jobs.
  // `inputs_of(i)`, when given, makes job i's inputs instead of load_animation_inputs.
  void run(const std::vector<FileAnimation>& jobs, const std::function<ModelPaths()>& find_models,
           const std::function<AnimationInputs(size_t)>& inputs_of = {}) {
    auto inputs = [&](size_t i) { return inputs_of ? inputs_of(i) : load_animation_inputs(jobs[i]); };
    AnimationInputs first = inputs(0);
    const ModelPaths paths = find_models();
    describe_inputs(jobs.front(), first);
    EngineOptions engine = engine_;
    engine.threads = configure_threads(dist_.threads(engine.threads));
    if (const std::string slow = dtype_speed_warning(engine.dtype, engine.device); !slow.empty())
      rep_.info("warning: " + slow);
    rep_.info("loading models (" + std::to_string(engine.threads) + " threads)");
    rep_.json({{"event", "loading"}, {"threads", engine.threads}});
    auto t0 = std::chrono::steady_clock::now();
    Animator animator(paths, engine);
    animator.set_window_share(dist_.window_share());
    if (dist_.env.world > 1)
      rep_.info("animating on " + std::to_string(dist_.env.world) + " processes (" + dist_.env.launcher +
                "): each runs every " + std::to_string(dist_.env.world) + "th window of a step");
    rep_.info("models loaded in " + cli::format_duration(seconds_since(t0)));
    if (engine.low_memory) rep_.info(describe_low_memory(animator.weight_bytes()));
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (cancel_->load()) throw Cancelled();
      AnimationInputs in = std::move(first);
      if (i > 0) {
        in = inputs(i);
        describe_inputs(jobs[i], in);
      }
      animate_one(animator, job_of_this_rank(jobs[i]), in, static_cast<int64_t>(i) + 1,
                  static_cast<int64_t>(jobs.size()));
    }
  }

 private:
  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // Every rank animates with rank 0's seed (a random one is drawn per
  // rank); only rank 0 writes.
  FileAnimation job_of_this_rank(FileAnimation job) const {
    job.params.seed = dist_.agree(job.params.seed);
    if (!dist_.leader()) job.video_out = job.grid_out = job.frames_out = job.control_out = job.source_out = "";
    return job;
  }

  void describe_inputs(const FileAnimation& job, const AnimationInputs& in) {
    rep_.info("source " + job.source + ", motion " + job.motion + ": " + std::to_string(in.control.size(0)) +
              " frames at " + format_number(in.fps) + " fps");
  }

  void animate_one(Animator& animator, const FileAnimation& job, const AnimationInputs& in, int64_t index, int64_t count) {
    const AnimationParams& p = job.params;
    const int64_t frames = in.control.size(0);
    rep_.info((count > 1 ? "[" + std::to_string(index) + "/" + std::to_string(count) + "] " : std::string()) +
              "animating " + std::to_string(frames) + " frames at " + std::to_string(p.width) + "x" +
              std::to_string(p.height) + size_note_ + ": " + std::to_string(p.steps) + " steps" +
              (p.scheduler == AnimationParams{}.scheduler ? std::string() : " (" + p.scheduler + ")") + ", guidance " +
              format_number(p.guidance) + ", seed " + std::to_string(p.seed) + ", windows of " +
              std::to_string(p.context) + " overlapping " + std::to_string(p.overlap) +
              (p.deep_cache > 1 ? ", deep features reused for " + std::to_string(p.deep_cache - 1) + " of every " +
                                      std::to_string(p.deep_cache) + " steps"
                                : std::string()));
    rep_.json({{"event", "start"},
               {"job", index},
               {"jobs", count},
               {"source", job.source},
               {"motion", job.motion},
               {"frames", frames},
               {"width", p.width},
               {"height", p.height},
               {"steps", p.steps},
               {"scheduler", p.scheduler},
               {"guidance", p.guidance},
               {"seed", p.seed},
               {"context", p.context},
               {"overlap", p.overlap},
               {"deep_cache", p.deep_cache}});
    auto t0 = std::chrono::steady_clock::now();
    FileAnimationResult result = run_file_animation(animator, job, in, rep_.progress(index, count), cancel_);
    rep_.end_progress();
    for (const std::string& path : result.outputs) {
      rep_.info("wrote " + path);
      rep_.json({{"event", "output"}, {"job", index}, {"path", path}});
    }
    rep_.json({{"event", "done"},
               {"job", index},
               {"jobs", count},
               {"frames", result.frames},
               {"fps", result.fps},
               {"outputs", result.outputs},
               {"elapsed_s", seconds_since(t0)}});
  }

  const EngineOptions engine_;
  cli::Reporter& rep_;
  const std::atomic<bool>* cancel_;
  const DistRun& dist_;
  const std::string size_note_;
};

void run_flags_mode(const AnimateOptions& o, const AnimateFlags& f, const EngineOptions& engine, cli::Reporter& rep,
                    const std::atomic<bool>* cancel, const DistRun& dist) {
  std::string size_note;
  FileAnimation job = job_from_flags(o, f, &size_note);
  validate_file_animation(job);
  std::unique_ptr<pose::ExtractedMotion> extracted;
  if (!o.pose_out.empty()) check_output_path(o.pose_out, "--pose-out");
  if (!o.extract_pose.empty() && dist.env.world > 1)
    throw Error("--extract-pose runs in one process: make the motion with `magicanimate densepose` first, "
                "then animate it on " + std::to_string(dist.env.world) + " processes");
  if (!o.extract_pose.empty()) {
    // The densepose command's defaults (512 px centre crop, 25 fps); kept only with --pose-out.
    pose::MotionOptions m;
    m.weights = o.extract_pose;
    m.input = o.motion;
    rep.info("extracting the DensePose motion of " + o.motion + " with " + o.extract_pose);
    configure_threads(engine.threads);
    auto progress = [&](int64_t done, int64_t total) {
      if (done == total || done % 10 == 0) rep.info("densepose: frame " + std::to_string(done) + "/" + std::to_string(total));
    };
    extracted = std::make_unique<pose::ExtractedMotion>(m, o.pose_out.empty() ? o.out + ".pose.mp4" : o.pose_out,
                                                        progress, cancel);
    job.motion = extracted->path();
  }
  AnimateRun(engine, rep, cancel, dist, size_note).run({job}, [&] { return resolve_model_paths(o.models.models, o.models.parts); });
  if (extracted && !o.pose_out.empty()) {
    extracted->keep();
    rep.info("wrote " + o.pose_out);
    rep.json({{"event", "output"}, {"path", o.pose_out}});
  }
}

void run_dataset_mode(const AnimateOptions& o, const AnimateFlags& f, const EngineOptions& engine, cli::Reporter& rep,
                      const std::atomic<bool>* cancel, const DistRun& dist) {
  std::string size_note;
  FileAnimation base = job_from_flags(o, f, &size_note);
  rep.info("scanning the dataset " + o.dataset);
  const DatasetJobs plan = plan_dataset_jobs(o.dataset, o.videos, o.out, base);
  rep.info(std::to_string(plan.jobs.size()) + " videos to animate into " + o.out);
  rep.json({{"event", "config"}, {"dataset", o.dataset}, {"out", o.out}, {"jobs", plan.jobs.size()}});
  AnimateRun(engine, rep, cancel, dist, size_note)
      .run(plan.jobs, [&] { return resolve_model_paths(o.models.models, o.models.parts); },
           [&](size_t i) { return load_dataset_inputs(plan, i); });
}

void run_config_mode(const AnimateOptions& o, const AnimateFlags& f, const EngineOptions& engine, cli::Reporter& rep,
                     const std::atomic<bool>* cancel, const DistRun& dist) {
  cli::ConfigLoadOptions load;
  load.out_dir = o.out_dir;
  load.overlap = o.params.overlap;
  if (o.fps > 0) load.fps = o.fps;
  cli::AnimationConfig cfg = cli::load_animation_config(o.config, load);
  std::vector<FileAnimation> jobs;
  for (auto& pair : cfg.pairs) {
    pair.job.params.prompt = o.params.prompt;
    pair.job.params.negative_prompt = o.params.negative_prompt;
    pair.job.params.scheduler = o.params.scheduler;  // the original's configs have no such key
    pair.job.params.deep_cache = o.params.deep_cache;  // nor this one
    validate_file_animation(pair.job);
    jobs.push_back(pair.job);
  }
  const std::string record = cli::config_record_path(cfg);
  check_output_path(record, "config record");

  // --models replaces every model location of the yaml; part flags replace one each.
  auto find_models = [&] {
    const ModelPathOverrides& parts = o.models.parts;
    if (f.models->count() > 0) return resolve_model_paths(o.models.models, parts);
    ModelPaths paths = resolve_model_paths("", merge_parts(cfg.models, parts));
    if (parts.sd.empty()) cli::apply_unet_dir(paths, cfg.unet_dir);
    return paths;
  };
  rep.info("writing to " + cfg.savedir);
  rep.json({{"event", "config"}, {"config", o.config}, {"savedir", cfg.savedir}, {"jobs", jobs.size()}});
  AnimateRun(engine, rep, cancel, dist).run(jobs, find_models);
  if (!dist.leader()) return;

  // Like the original, the config with the seeds used goes next to the videos.
  StagedOutputs staged;
  std::string temp = staged.file(record);
  std::ofstream file(temp);
  file << cli::config_record_text(cfg);
  file.close();
  if (!file) throw Error("cannot write " + temp);
  staged.commit();
  rep.info("wrote " + record);
  rep.json({{"event", "output"}, {"path", record}});
}

int run_animate(const AnimateOptions& o, const AnimateFlags& f) {
  const EngineOptions engine = check_mode_options(o, f);
  if (std::optional<int> status = launch_workers(o.dist)) return *status;
  const std::atomic<bool>* cancel = cli::install_interrupt_handlers();
  const DistRun dist = join_run(o.dist);
  // Only rank 0 reports; the other ranks print nothing but errors.
  const cli::LogMode mode = dist.leader() ? cli::log_mode_from(o.output) : cli::LogMode::quiet;
  cli::Reporter rep(mode, ::isatty(STDERR_FILENO) == 1);
  try {
    if (!o.dataset.empty())
      run_dataset_mode(o, f, engine, rep, cancel, dist);
    else if (o.config.empty())
      run_flags_mode(o, f, engine, rep, cancel, dist);
    else
      run_config_mode(o, f, engine, rep, cancel, dist);
  } catch (const Cancelled&) {
    rep.end_progress();
    rep.json({{"event", "cancelled"}});
    throw;
  } catch (const std::exception& e) {
    rep.end_progress();
    rep.json({{"event", "error"}, {"message", e.what()}});
    throw;
  }
  rep.json({{"event", "finished"}});
  return 0;
}

}  // namespace

Action add_animate_command(CLI::App& app) {
  auto o = std::make_shared<AnimateOptions>();
  auto f = std::make_shared<AnimateFlags>();
  CLI::App* sub = app.add_subcommand(
      "animate",
      "Animate the person in a reference image along a DensePose motion video (or run an original config file)");
  sub->footer(kFooter);
  // A repeated option takes its last value, as most command-line tools do.
  sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  const char* inputs = "Inputs and outputs";
  f->config =
      sub->add_option("--config", o->config, "The original's animation.yaml: run every source/video pair listed in it")
          ->type_name("FILE")
          ->group(inputs);
  sub->add_option("--source", o->source, "Reference image (any size; resized to the output size)")
      ->type_name("IMAGE")
      ->group(inputs);
  sub->add_option("--motion", o->motion, "DensePose motion: MP4/WebM/GIF video or a folder of numbered frames")
      ->type_name("VIDEO|DIR")
      ->group(inputs);
  sub->add_option("--out", o->out, "Output MP4 (H.264); with --dataset the folder receiving <video>/<frame>.png")
      ->type_name("FILE")
      ->group(inputs);
  sub->add_option("--dataset", o->dataset,
                  "Animate every video of a TikTok-layout dataset (<video>/images + <video>/densepose) from its "
                  "first frame, for `eval` (see Dataset below)")
      ->type_name("DIR")
      ->group(inputs);
  sub->add_option("--videos", o->videos, "With --dataset: only these videos (comma-separated, or a file of names)")
      ->type_name("LIST")
      ->group(inputs);
  sub->add_option("--extract-pose", o->extract_pose,
                  "--motion is a raw video of a person: make its DensePose motion first with these detectron2 "
                  "weights (as `magicanimate densepose` does with its defaults)")
      ->type_name("WEIGHTS")
      ->group(inputs);
  sub->add_option("--pose-out", o->pose_out, "With --extract-pose: also keep the motion video made (.mp4)")
      ->type_name("FILE")
      ->group(inputs);
  sub->add_option("--frames-out", o->frames_out, "Also write every result frame as DIR/0000.png, 0001.png, ...")
      ->type_name("DIR")
      ->group(inputs);
  sub->add_option("--grid", o->grid, "Also write the source | control | result grid video (the original's grid.mp4)")
      ->type_name("FILE")
      ->group(inputs);
  f->out_dir = sub->add_option("--out-dir", o->out_dir, "With --config: the folder that receives samples/")
                   ->type_name("DIR")
                   ->capture_default_str()
                   ->group(inputs);
  sub->add_option("--max-frames", o->max_frames, "Use at most N motion frames (0: all)")
      ->type_name("N")
      ->capture_default_str()
      ->group(inputs);
  sub->add_option("--offset", o->offset, "Skip the first N motion frames")
      ->type_name("N")
      ->capture_default_str()
      ->group(inputs);
  sub->add_option("--fps", o->fps, "Output frame rate (0: the motion video's; frame folders and --config: 25)")
      ->type_name("F")
      ->capture_default_str()
      ->group(inputs);

  const char* sampling = "Sampling";
  f->size = sub->add_option("--size", o->size, "Output width and height, multiple of 8 (default: the models' native size (magicanimate.json), else 512)")
                ->type_name("N")
                ->capture_default_str()
                ->group(sampling);
  f->width = sub->add_option("--width", o->width, "Output width, multiple of 8 (default: --size)")
                 ->type_name("W")
                 ->group(sampling);
  f->height = sub->add_option("--height", o->height, "Output height, multiple of 8 (default: --size)")
                  ->type_name("H")
                  ->group(sampling);
  cli::add_sampling_options(*sub, o->params, sampling);
  sub->add_option("--seed", o->seed, "Noise seed (-1: random, printed)")
      ->type_name("N")
      ->capture_default_str()
      ->group(sampling);
  sub->add_option("--prompt", o->params.prompt, "Text prompt (default: empty, as the original)")
      ->type_name("TEXT")
      ->capture_default_str()
      ->group(sampling);
  sub->add_option("--negative-prompt", o->params.negative_prompt, "Negative text prompt (default: empty)")
      ->type_name("TEXT")
      ->capture_default_str()
      ->group(sampling);

  f->models = cli::add_model_options(*sub, o->models);
  cli::add_engine_options(*sub, o->engine, "Running");
  cli::add_output_options(*sub, o->output, "Running");

  add_dist_options(*sub, o->dist);
  for (const char* name : kFlagsModeOnly) f->flags_mode_only.push_back(sub->get_option(name));
  return [o, f]() -> int { return run_animate(*o, *f); };
}

}  // namespace ma::app
