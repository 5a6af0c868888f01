// OUT/loss.svg: the training loss per step and its running mean, a plain SVG
// any browser shows (no plotting library).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ma::train {

// points: (step, loss). Empty input gives an empty chart.
std::string loss_svg(const std::vector<std::pair<int64_t, double>>& points);

}  // namespace ma::train
