// Named tensors as read from a checkpoint file, and how to convert them.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

namespace ma {

// Ordered by name so listings (inspect, reports) are stable.
using TensorMap = std::map<std::string, at::Tensor>;

// Where and at which precision weights should end up: a device and a dtype
// (not at::TensorOptions, which also carries layout, grad and memory format). Floating-point tensors
// are converted to `dtype`; integer tensors (e.g. CLIP position_ids) keep theirs.
struct DeviceDtype {
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
};

// Converts a floating tensor to the requested dtype/device (integers only move).
at::Tensor convert_tensor(const at::Tensor& t, const DeviceDtype& opt);

}  // namespace ma
