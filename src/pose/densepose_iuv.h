// What the DensePose network's chart outputs mean in the frame: per detected
// person, the part label I (0 = background, 1..24) and the chart coordinates
// U, V of each pixel of its integer box (densepose/converters:
// chart_output_to_chart_result + segm_to_mask), and the part-label
// rendering MagicAnimate's motion videos use (densepose/vis/base.py
// MatrixVisualizer with alpha 1, as vid2densepose and ComfyUI call it).
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "models/densepose/densepose_rcnn.h"
#include "pose/colormap.h"

namespace ma::pose {

struct PersonIuv {
  float score = 0;
  // make_int_box of the frame-coordinate box: x, y, w, h each truncated.
  int64_t x = 0, y = 0, w = 0, h = 0;
  at::Tensor labels;  // uint8 [max(h,1), max(w,1)]
  at::Tensor uv;      // float [2, max(h,1), max(w,1)]; 0 where the label is 0 (only when asked for)
};

// One entry per detection, in the network's (descending score) order.
std::vector<PersonIuv> chart_to_iuv(const densepose::DensePoseOutput& out, bool with_uv = true);

// The frame's part-label map (uint8 [H, W]): 0 everywhere, then each person
// in order writes its labels I > 0 into its box; later people overwrite.
at::Tensor compose_labels(int64_t height, int64_t width, const std::vector<PersonIuv>& people);

// Label map -> RGB uint8 [H, W, 3]: label 0 is the background colour
// (viridis[0], i.e. RGB 68,1,84; black for parula), I > 0 is part_colour(I).
at::Tensor colorize_labels(const at::Tensor& labels, Colormap cmap = Colormap::Viridis);

// colorize_labels(compose_labels(...)): what detectron2's visualiser draws
// over a viridis[0] canvas with alpha 1.
at::Tensor render_parts(int64_t height, int64_t width, const std::vector<PersonIuv>& people,
                        Colormap cmap = Colormap::Viridis);

}  // namespace ma::pose
