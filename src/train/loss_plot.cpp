#include "train/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ma::train {

std::string loss_svg(const std::vector<std::pair<int64_t, double>>& points) {
  constexpr double W = 800, H = 400, L = 60, R = 20, T = 20, B = 40;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!points.empty()) {
    // Log scale on the loss: diffusion losses fall over orders of magnitude while overfitting.
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& [step, loss] : points)
      if (loss > 0 && std::isfinite(loss)) lo = std::min(lo, std::log10(loss)), hi = std::max(hi, std::log10(loss));
    if (!std::isfinite(lo)) lo = -1, hi = 0;
    if (hi - lo < 1e-6) lo -= 0.5, hi += 0.5;
    const double x0 = static_cast<double>(points.front().first), x1 = std::max<double>(x0 + 1, points.back().first);
    auto px = [&](double step) { return L + (step - x0) / (x1 - x0) * (W - L - R); };
    auto py = [&](double loss) {
      const double v = loss > 0 && std::isfinite(loss) ? std::log10(loss) : lo;
      return T + (hi - v) / (hi - lo) * (H - T - B);
    };
    s << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
    s << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
    s << "<text x=\"" << L << "\" y=\"" << H - 10 << "\">step " << points.front().first << "</text>\n";
    s << "<text x=\"" << W - R << "\" y=\"" << H - 10 << "\" text-anchor=\"end\">step " << points.back().first << "</text>\n";
    s << "<text x=\"5\" y=\"" << T + 10 << "\">" << std::pow(10.0, hi) << "</text>\n";
    s << "<text x=\"5\" y=\"" << H - B << "\">" << std::pow(10.0, lo) << "</text>\n";
    auto polyline = [&](const std::vector<std::pair<int64_t, double>>& pts, const char* colour, double width) {
      s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"" << width << "\" points=\"";
      for (const auto& [step, loss] : pts) s << px(static_cast<double>(step)) << "," << py(loss) << " ";
      s << "\"/>\n";
    };
    polyline(points, "#9bbbe0", 1);
    // Running mean over the last 5% of the steps (at least 1).
    const size_t window = std::max<size_t>(1, points.size() / 20);
    std::vector<std::pair<int64_t, double>> mean;
    double sum = 0;
    for (size_t i = 0; i < points.size(); ++i) {
      sum += points[i].second;
      if (i >= window) sum -= points[i - window].second;
      mean.emplace_back(points[i].first, sum / static_cast<double>(std::min(i + 1, window)));
    }
    polyline(mean, "#1f4e8c", 2);
  }
  s << "<text x=\"" << W / 2 << "\" y=\"15\" text-anchor=\"middle\">training loss (log scale)</text>\n</svg>\n";
  return s.str();
}

}  // namespace ma::train
