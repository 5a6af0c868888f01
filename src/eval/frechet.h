// The Fréchet distance between two Gaussians fitted to feature sets (FID,
// FID-VID, FVD), in float64.
#pragma once
#include <ATen/ATen.h>

namespace ma::eval {

struct Gaussian {
  at::Tensor mu;     // float64 [D]
  at::Tensor sigma;  // float64 [D, D]
};

// mu = mean over rows; sigma = np.cov(features, rowvar=False) (divides by
// N - 1). features: [N, D], N >= 2.
Gaussian fit_gaussian(const at::Tensor& features);

// |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2). The trace of the square
// root is taken as sum sqrt(eig(sqrt(S1) S2 sqrt(S1))), a symmetric positive
// semi-definite matrix with the same eigenvalues as S1 S2, from two symmetric
// eigendecompositions with eigenvalues at rounding level (below D * eps * the
// largest, negative ones included) set to 0. Equal to
// scipy.linalg.sqrtm's trace when that is accurate, and stable when N < D
// makes the covariances singular (where sqrtm needs pytorch-fid's eps retry).
double frechet_distance(const Gaussian& a, const Gaussian& b);

}  // namespace ma::eval
