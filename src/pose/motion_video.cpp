#include "pose/motion_video.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "media/image.h"
#include "media/video.h"
#include "models/densepose/densepose_rcnn.h"
#include "util/staged_outputs.h"
#include "pose/densepose_iuv.h"
#include "util/error.h"

namespace ma::pose {

std::vector<int64_t> resample_frame_indices(int64_t frames, double fps_in, double fps_out) {
  if (frames <= 0) return {};
  if (!(fps_in > 0) || !(fps_out > 0)) throw Error("frame rates must be positive");
  const auto count = std::max<int64_t>(1, static_cast<int64_t>(std::floor(frames * fps_out / fps_in + 1e-9)));
  std::vector<int64_t> idx;
  for (int64_t k = 0; k < count; ++k)
    idx.push_back(std::min<int64_t>(frames - 1, std::llround(static_cast<double>(k) * fps_in / fps_out)));
  return idx;
}

std::vector<at::Tensor> vote_labels(const std::vector<at::Tensor>& maps, int64_t radius) {
  if (radius <= 0 || maps.size() < 2) return maps;
  const auto n = static_cast<int64_t>(maps.size());
  const int64_t pixels = maps[0].numel();
  std::vector<const uint8_t*> src;
  for (const auto& m : maps) src.push_back(m.data_ptr<uint8_t>());
  std::vector<at::Tensor> out;
  std::array<int, 256> count{};
  for (int64_t t = 0; t < n; ++t) {
    const int64_t lo = std::max<int64_t>(0, t - radius), hi = std::min<int64_t>(n - 1, t + radius);
    at::Tensor m = at::empty_like(maps[static_cast<size_t>(t)]);
    uint8_t* dst = m.data_ptr<uint8_t>();
    for (int64_t p = 0; p < pixels; ++p) {
      for (int64_t s = lo; s <= hi; ++s) ++count[src[static_cast<size_t>(s)][p]];
      const uint8_t own = src[static_cast<size_t>(t)][p];
      int best = own;
      for (int64_t s = lo; s <= hi; ++s) {
        const uint8_t l = src[static_cast<size_t>(s)][p];
        if (count[l] > count[static_cast<size_t>(best)] || (count[l] == count[static_cast<size_t>(best)] && best != own && l < best))
          best = l;
      }
      dst[p] = static_cast<uint8_t>(best);
      for (int64_t s = lo; s <= hi; ++s) count[src[static_cast<size_t>(s)][p]] = 0;
    }
    out.push_back(m);
  }
  return out;
}

double label_flicker(const std::vector<at::Tensor>& maps) {
  int64_t changed = 0, person = 0;
  for (size_t t = 1; t < maps.size(); ++t) {
    const at::Tensor either = (maps[t] > 0) | (maps[t - 1] > 0);
    person += either.sum().item<int64_t>();
    changed += (either & maps[t].ne(maps[t - 1])).sum().item<int64_t>();
  }
  return person > 0 ? static_cast<double>(changed) / static_cast<double>(person) : 0.0;
}

at::Tensor square_labels(const at::Tensor& map, int64_t size, bool crop) {
  const int64_t h = map.size(0), w = map.size(1);
  at::Tensor sq;
  if (crop) {
    const int64_t s = std::min(h, w);
    sq = map.slice(0, (h - s) / 2, (h - s) / 2 + s).slice(1, (w - s) / 2, (w - s) / 2 + s);
  } else {
    const int64_t s = std::max(h, w);
    sq = at::zeros({s, s}, at::kByte);
    sq.slice(0, (s - h) / 2, (s - h) / 2 + h).slice(1, (s - w) / 2, (s - w) / 2 + w).copy_(map);
  }
  if (size <= 0 || sq.size(0) == size) return sq.contiguous();
  return at::upsample_nearest2d(sq.to(at::kFloat).unsqueeze(0).unsqueeze(0), {size, size})[0][0].to(at::kByte);
}

MotionStats make_motion_video(const MotionOptions& o, const MotionProgress& progress, const std::atomic<bool>* cancel) {
  if (o.min_score < 0 || o.min_score > 1) throw Error("--min-score must lie in [0, 1]");
  if (o.max_people < 0) throw Error("--max-people must be 0 (all) or more");
  if (o.size < 0 || o.size > 4096) throw Error("--size must lie in [0, 4096]");
  if (o.fps < 0 || o.fps > 240) throw Error("--fps must lie in [0, 240]");
  if (o.smooth < 0 || o.smooth > 50) throw Error("--smooth must lie in [0, 50]");
  check_output_path(o.out, "--out");
  if (!o.frames_out.empty()) check_output_path(o.frames_out, "--frames-out", true);

  auto model = densepose::load_densepose(o.weights, o.config, [&](densepose::DensePoseConfig& c) {
    c.score_thresh = o.min_score;  // detectron2 drops boxes under SCORE_THRESH_TEST before its NMS
    if (o.adjust_config) o.adjust_config(c);
  });
  DecodedVideo video = read_video(o.input);
  MotionStats st;
  st.input_frames = video.frames.size(0);
  st.input_fps = video.fps;
  const std::vector<int64_t> pick = resample_frame_indices(st.input_frames, video.fps, o.fps > 0 ? o.fps : video.fps);
  st.frames = static_cast<int64_t>(pick.size());
  const int64_t H = video.frames.size(1), W = video.frames.size(2);

  std::vector<at::Tensor> maps;
  for (size_t k = 0; k < pick.size(); ++k) {
    if (cancel && cancel->load()) throw Cancelled();
    const at::Tensor bgr = video.frames[pick[k]].flip({2}).contiguous();
    std::vector<PersonIuv> people = chart_to_iuv(model->forward(bgr), /*with_uv=*/false);
    if (o.max_people > 0 && static_cast<int64_t>(people.size()) > o.max_people) people.resize(static_cast<size_t>(o.max_people));
    if (!people.empty()) ++st.frames_with_people;
    maps.push_back(compose_labels(H, W, people));
    if (progress) progress(static_cast<int64_t>(k) + 1, st.frames);
  }
  video.frames = at::Tensor();
  if (st.frames_with_people == 0)
    throw Error(o.input + ": no person found in any of its " + std::to_string(st.frames) +
                " frames (at --min-score " + std::to_string(o.min_score) + ")");
  st.flicker_raw = label_flicker(maps);
  if (o.smooth > 0) maps = vote_labels(maps, o.smooth);
  st.flicker = label_flicker(maps);

  StagedOutputs staged;
  const std::string video_tmp = staged.file(o.out);
  const std::string frames_tmp = o.frames_out.empty() ? "" : staged.folder(o.frames_out);
  std::unique_ptr<VideoWriter> writer;
  for (size_t k = 0; k < maps.size(); ++k) {
    if (cancel && cancel->load()) throw Cancelled();
    const at::Tensor rgb = colorize_labels(o.size > 0 ? square_labels(maps[k], o.size, o.crop) : maps[k], o.cmap);
    if (!writer) writer = std::make_unique<VideoWriter>(video_tmp, rgb.size(1), rgb.size(0), o.fps > 0 ? o.fps : video.fps);
    writer->write(rgb);
    if (!frames_tmp.empty()) {
      char name[32];
      std::snprintf(name, sizeof name, "/%04zu.png", k);
      write_png(frames_tmp + name, rgb);
    }
  }
  writer->finish();
  staged.commit();
  return st;
}

}  // namespace ma::pose
