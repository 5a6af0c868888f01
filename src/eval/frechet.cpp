#include "eval/frechet.h"

#include <limits>

#include "util/error.h"

namespace ma::eval {
namespace {

at::Tensor symmetric(const at::Tensor& m) { return (m + m.transpose(0, 1)) * 0.5; }

// Eigenvalues of a symmetric PSD matrix with those indistinguishable from
// rounding (below D * eps * the largest) set to 0: their square roots would
// otherwise add ~sqrt(eps) each, i.e. 1e-6 over a few hundred null directions.
at::Tensor clean_eigenvalues(const at::Tensor& lambda) {
  const double largest = lambda.abs().max().item<double>();
  const double floor = largest * static_cast<double>(lambda.numel()) * std::numeric_limits<double>::epsilon();
  return at::where(lambda > floor, lambda, at::zeros_like(lambda));
}

}  // namespace

Gaussian fit_gaussian(const at::Tensor& features) {
  if (features.dim() != 2) throw Error("features must be a [N, D] matrix");
  const int64_t n = features.size(0);
  if (n < 2) throw Error("a covariance needs at least 2 samples, got " + std::to_string(n));
  at::Tensor f = features.to(at::kDouble);
  at::Tensor mu = f.mean(0);
  at::Tensor centred = f - mu;
  at::Tensor sigma = centred.transpose(0, 1).matmul(centred) / static_cast<double>(n - 1);
  return {mu, sigma};
}

double frechet_distance(const Gaussian& a, const Gaussian& b) {
  const int64_t d = a.mu.numel();
  if (b.mu.numel() != d || a.sigma.sizes() != at::IntArrayRef({d, d}) || b.sigma.sizes() != a.sigma.sizes())
    throw Error("the two feature Gaussians have different dimensions");
  at::Tensor s1 = symmetric(a.sigma.to(at::kDouble)), s2 = symmetric(b.sigma.to(at::kDouble));
  auto [l1, v1] = at::linalg_eigh(s1);
  at::Tensor root1 = v1.matmul(at::diag(clean_eigenvalues(l1).sqrt())).matmul(v1.transpose(0, 1));
  at::Tensor inner = symmetric(root1.matmul(s2).matmul(root1));
  const double tr_sqrt = clean_eigenvalues(at::linalg_eigvalsh(inner)).sqrt().sum().item<double>();
  const at::Tensor diff = a.mu.to(at::kDouble) - b.mu.to(at::kDouble);
  return diff.dot(diff).item<double>() + s1.trace().item<double>() + s2.trace().item<double>() - 2 * tr_sqrt;
}

}  // namespace ma::eval
