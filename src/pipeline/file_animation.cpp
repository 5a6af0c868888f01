#include "pipeline/file_animation.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <system_error>

#include "media/image.h"
#include "media/video.h"
#include "util/staged_outputs.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

void check_readable_input(const std::string& path, const std::string& what, bool folder_allowed) {
  if (path.empty()) throw Error(what + ": no path given");
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) throw Error(what + " " + path + " does not exist");
  if (fs::is_directory(st)) {
    if (!folder_allowed) throw Error(what + " " + path + " is a folder, expected an image file");
    if (::access(path.c_str(), R_OK | X_OK) != 0) throw Error(what + " folder " + path + " is not readable");
    return;
  }
  if (!fs::is_regular_file(st)) throw Error(what + " " + path + " is not a regular file");
  if (::access(path.c_str(), R_OK) != 0) throw Error(what + " " + path + " is not readable");
}

std::string canonical_or_self(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

at::Tensor resized(const at::Tensor& rgb, int64_t width, int64_t height) {
  if (rgb.size(0) == height && rgb.size(1) == width) return rgb;
  return resize_like_pillow(rgb, width, height);
}

void throw_if_cancelled(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load()) throw Cancelled();
}

void write_mp4(const std::string& path, int64_t frames, double fps, const std::atomic<bool>* cancel,
               const std::function<at::Tensor(int64_t)>& frame_at) {
  at::Tensor first = frame_at(0);
  VideoWriter writer(path, first.size(1), first.size(0), fps);
  writer.write(first);
  for (int64_t i = 1; i < frames; ++i) {
    throw_if_cancelled(cancel);
    writer.write(frame_at(i));
  }
  writer.finish();
}

std::string number(double v) {
  std::ostringstream text;
  text << v;
  return text.str();
}

std::string frame_name(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%04lld.png", static_cast<long long>(index));
  return name;
}

}  // namespace

void validate_file_animation(const FileAnimation& anim) {
  anim.params.validate();
  if (anim.offset < 0) throw Error("offset must be 0 or more, got " + std::to_string(anim.offset));
  if (anim.max_frames == 0) throw Error("max frames must be at least 1 (or unlimited)");
  if (!std::isfinite(anim.fps) || anim.fps < 0 || anim.fps > 1000)
    throw Error("fps must be between 0 (the motion video's) and 1000, got " + number(anim.fps));
  check_readable_input(anim.source, "source image", false);
  check_readable_input(anim.motion, "motion video", true);

  struct Out {
    const std::string& path;
    const char* what;
    bool folder;
  };
  const Out outs[] = {{anim.video_out, "output video", false},
                      {anim.grid_out, "grid video", false},
                      {anim.frames_out, "frames folder", true},
                      {anim.control_out, "control video", false},
                      {anim.source_out, "source video", false}};
  std::vector<std::pair<std::string, const char*>> seen = {{canonical_or_self(anim.source), "the source image"},
                                                           {canonical_or_self(anim.motion), "the motion video"}};
  bool any = false;
  for (const Out& o : outs) {
    if (o.path.empty()) continue;
    any = true;
    check_output_path(o.path, o.what, o.folder);
    std::string key = canonical_or_self(o.path);
    for (const auto& [other, name] : seen)
      if (other == key) throw Error(std::string(o.what) + " " + o.path + " is the same path as " + name);
    seen.emplace_back(key, o.what);
  }
  if (!any) throw Error("no output requested");
}

AnimationInputs load_animation_inputs(const FileAnimation& anim) {
  const int64_t w = anim.params.width, h = anim.params.height;
  AnimationInputs in;
  in.source = resized(read_image_rgb(anim.source), w, h).contiguous();
  DecodedVideo motion = read_video(anim.motion, anim.max_frames, anim.offset);
  if (!motion.frames.defined() || motion.frames.dim() != 4 || motion.frames.size(0) == 0)
    throw Error("motion video " + anim.motion + " has no frames from offset " + std::to_string(anim.offset));
  std::vector<at::Tensor> frames;
  frames.reserve(motion.frames.size(0));
  for (int64_t i = 0; i < motion.frames.size(0); ++i) frames.push_back(resized(motion.frames[i], w, h));
  in.control = at::stack(frames).contiguous();
  in.fps = motion.fps > 0 ? motion.fps : 25.0;
  return in;
}

FileAnimationResult run_file_animation(Animator& animator, const FileAnimation& anim, const AnimationInputs& inputs,
                            const ProgressCallback& progress, const std::atomic<bool>* cancel) {
  throw_if_cancelled(cancel);
  at::Tensor video = animator.animate(inputs.source, inputs.control, anim.params, progress, cancel);
  at::Tensor result = video_to_u8(video).contiguous();  // [F, H, W, 3]
  throw_if_cancelled(cancel);

  const int64_t frames = result.size(0);
  const double fps = anim.fps > 0 ? anim.fps : inputs.fps;
  const at::Tensor& source = inputs.source;
  const at::Tensor& control = inputs.control;

  StagedOutputs staged;
  if (!anim.video_out.empty())
    write_mp4(staged.file(anim.video_out), frames, fps, cancel, [&](int64_t i) { return result[i]; });
  if (!anim.grid_out.empty())
    write_mp4(staged.file(anim.grid_out), frames, fps, cancel, [&](int64_t i) {
      return make_grid_row({source, control[i], result[i]});
    });
  if (!anim.control_out.empty())
    write_mp4(staged.file(anim.control_out), frames, fps, cancel, [&](int64_t i) { return control[i]; });
  if (!anim.source_out.empty())
    write_mp4(staged.file(anim.source_out), frames, fps, cancel, [&](int64_t) { return source; });
  if (!anim.frames_out.empty()) {
    const auto& names = anim.frame_names;
    if (!names.empty() && static_cast<int64_t>(names.size()) != frames)
      throw Error(std::to_string(names.size()) + " frame names for " + std::to_string(frames) + " result frames");
    fs::path folder = staged.folder(anim.frames_out);
    for (int64_t i = 0; i < frames; ++i) {
      throw_if_cancelled(cancel);
      write_png((folder / (names.empty() ? frame_name(i) : names[i] + ".png")).string(), result[i]);
    }
  }
  throw_if_cancelled(cancel);

  FileAnimationResult out;
  out.outputs = staged.commit();
  out.frames = frames;
  out.fps = fps;
  return out;
}

FileAnimationResult run_file_animation(Animator& animator, const FileAnimation& anim, const ProgressCallback& progress,
                            const std::atomic<bool>* cancel) {
  validate_file_animation(anim);
  AnimationInputs inputs = load_animation_inputs(anim);
  return run_file_animation(animator, anim, inputs, progress, cancel);
}

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd());
}

}  // namespace ma
