#include "synth/dataset_writer.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "util/atomic_file.h"
#include "media/image.h"
#include "synth/densepose_palette.h"
#include "synth/world.h"
#include "util/error.h"

namespace ma::synth {
namespace fs = std::filesystem;
namespace {

std::string numbered(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "%04d", i);
  return name;
}

void save_rgb(const fs::path& path, const std::vector<uint8_t>& rgb, int size) {
  at::Tensor t = at::from_blob(const_cast<uint8_t*>(rgb.data()), {size, size, 3}, at::kByte);
  write_png(path.string(), t);
}

void write_frame(const Frame& f, const fs::path& clip, const std::string& name) {
  const size_t n = f.labels.size();
  std::vector<uint8_t> pose(n * 3), mask(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const Rgb8 c = part_colour(f.labels[i]);
    pose[3 * i] = c.r, pose[3 * i + 1] = c.g, pose[3 * i + 2] = c.b;
    const uint8_t m = f.labels[i] != kBackground ? 255 : 0;
    mask[3 * i] = mask[3 * i + 1] = mask[3 * i + 2] = m;
  }
  save_rgb(clip / "images" / name, f.image, f.width);
  save_rgb(clip / "densepose" / name, pose, f.width);
  save_rgb(clip / "masks" / name, mask, f.width);
}

fs::path partial_dir(const SynthOptions& o) { return fs::path(o.out + ".partial"); }

}  // namespace

void validate(const SynthOptions& o) {
  if (o.out.empty()) throw Error("--out: a folder is required");
  if (o.size < 32 || o.size > 1024 || o.size % 8 != 0)
    throw Error("--size " + std::to_string(o.size) + ": must be a multiple of 8 from 32 to 1024");
  if (o.frames < 1 || o.frames > 9999)
    throw Error("--frames " + std::to_string(o.frames) + ": must be from 1 to 9999");
  if (o.clips < 1 || o.clips > 9999) throw Error("--clips " + std::to_string(o.clips) + ": must be from 1 to 9999");
  std::error_code ec;
  const fs::path out(o.out);
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) throw Error("--out " + o.out + ": exists and is not a folder");
    if (!fs::is_empty(out, ec)) throw Error("--out " + o.out + ": exists and is not empty");
  }
  if (fs::exists(partial_dir(o), ec))
    throw Error("--out " + o.out + ": " + partial_dir(o).string() +
                " exists (left by an interrupted run?); remove it first");
}

void write_dataset(const SynthOptions& o, const std::function<void(const ClipDone&)>& on_clip,
                   const std::atomic<bool>* stop) {
  validate(o);
  const fs::path out(o.out), tmp = partial_dir(o);
  std::error_code ec;
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path(), ec);
  if (!fs::create_directory(tmp, ec)) throw Error("--out " + o.out + ": cannot create " + tmp.string() + ": " + ec.message());
  try {
    nlohmann::json manifest = {{"generator", "magicanimate synth"}, {"seed", o.seed},   {"size", o.size},
                               {"frames", o.frames},                {"fps", kFps},      {"clips", nlohmann::json::array()}};
    for (int c = 0; c < o.clips; ++c) {
      const std::string name = "clip_" + numbered(c);
      const fs::path clip = tmp / name;
      for (const char* sub : {"images", "densepose", "masks"}) fs::create_directories(clip / sub);
      const ClipSpec spec = sample_clip(o.seed, c);
      const ClipRenderer renderer(spec, o.size);
      for (int f = 0; f < o.frames; ++f) {
        if (stop && stop->load()) throw Cancelled();
        write_frame(renderer.render(f, o.frames), clip, numbered(f) + ".png");
      }
      ClipDone done{c + 1, o.clips, o.frames, name, motion_name(spec.motion.kind),
                    backdrop_name(spec.background.kind)};
      manifest["clips"].push_back({{"name", name},
                                   {"motion", done.motion},
                                   {"style", spec.motion.style},
                                   {"backdrop", done.backdrop},
                                   {"yaw_start", spec.motion.yaw0},
                                   {"yaw_end", spec.motion.yaw1}});
      if (on_clip) on_clip(done);
    }
    const std::string text = manifest.dump(1) + "\n";
    write_file_atomically((tmp / "synth.json").string(), text.data(), text.size());
    // An empty --out folder is replaced (rename(2) may replace an empty directory).
    fs::rename(tmp, out, ec);
    if (ec) throw Error("--out " + o.out + ": cannot move " + tmp.string() + " into place: " + ec.message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace ma::synth
