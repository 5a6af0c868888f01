#include "pose/densepose_iuv.h"

#include <algorithm>
#include <array>

namespace ma::pose {

std::vector<PersonIuv> chart_to_iuv(const densepose::DensePoseOutput& out, bool with_uv) {
  std::vector<PersonIuv> people;
  const int64_t n = out.boxes.size(0);
  for (int64_t i = 0; i < n; ++i) {
    PersonIuv p;
    p.score = out.scores[i].item<float>();
    // BoxMode XYXY -> XYWH in float32, then .long() (truncation) of each value.
    const at::Tensor b = out.boxes[i];
    const at::Tensor xywh = at::stack({b[0], b[1], b[2] - b[0], b[3] - b[1]}).to(at::kLong);
    p.x = xywh[0].item<int64_t>(), p.y = xywh[1].item<int64_t>();
    p.w = xywh[2].item<int64_t>(), p.h = xywh[3].item<int64_t>();
    const int64_t w = std::max<int64_t>(p.w, 1), h = std::max<int64_t>(p.h, 1);
    auto resample = [&](const at::Tensor& t) {
      return at::upsample_bilinear2d(t.slice(0, i, i + 1), {h, w}, /*align_corners=*/false);
    };
    const at::Tensor coarse = resample(out.coarse_segm).argmax(1);
    const at::Tensor labels = (resample(out.fine_segm).argmax(1) * (coarse > 0).to(at::kLong))[0];
    p.labels = labels.to(at::kByte);
    if (with_uv) {
      const at::Tensor index = labels.unsqueeze(0).unsqueeze(0);  // [1, 1, h, w]
      const at::Tensor fg = (labels > 0).to(at::kFloat);
      const at::Tensor u = resample(out.u).gather(1, index)[0][0] * fg;
      const at::Tensor v = resample(out.v).gather(1, index)[0][0] * fg;
      p.uv = at::stack({u, v});
    }
    people.push_back(std::move(p));
  }
  return people;
}

at::Tensor compose_labels(int64_t height, int64_t width, const std::vector<PersonIuv>& people) {
  at::Tensor map = at::zeros({height, width}, at::kByte);
  uint8_t* dst = map.data_ptr<uint8_t>();
  for (const PersonIuv& p : people) {
    if (p.w <= 0 || p.h <= 0) continue;  // the visualiser skips empty boxes
    const at::Tensor labels = p.labels.contiguous();
    const uint8_t* lab = labels.data_ptr<uint8_t>();
    const int64_t lw = labels.size(1);
    for (int64_t r = std::max<int64_t>(0, -p.y); r < p.h && p.y + r < height; ++r)
      for (int64_t c = std::max<int64_t>(0, -p.x); c < p.w && p.x + c < width; ++c)
        if (const uint8_t label = lab[r * lw + c]) dst[(p.y + r) * width + p.x + c] = label;
  }
  return map;
}

at::Tensor colorize_labels(const at::Tensor& labels_in, Colormap cmap) {
  const at::Tensor labels = labels_in.to(at::kByte).contiguous();
  std::array<Rgb, 256> lut{};
  lut[0] = cmap == Colormap::Parula ? Rgb{0, 0, 0} : colormap_table(cmap)[0];
  for (int i = 1; i < 256; ++i) lut[static_cast<size_t>(i)] = part_colour(cmap, i);
  at::Tensor img = at::empty({labels.size(0), labels.size(1), 3}, at::kByte);
  const uint8_t* src = labels.data_ptr<uint8_t>();
  uint8_t* px = img.data_ptr<uint8_t>();
  for (int64_t k = 0; k < labels.numel(); ++k) {
    const Rgb c = lut[src[k]];
    px[3 * k] = c.r, px[3 * k + 1] = c.g, px[3 * k + 2] = c.b;
  }
  return img;
}

at::Tensor render_parts(int64_t height, int64_t width, const std::vector<PersonIuv>& people, Colormap cmap) {
  return colorize_labels(compose_labels(height, width, people), cmap);
}

}  // namespace ma::pose
