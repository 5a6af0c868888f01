// The engine's device as the programs spell it (--device).
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace ma {

// "cpu" | "cuda" | "cuda:N" -> the device. Anything else, or a CUDA device that
// this build or machine cannot use (a CPU-only libtorch, no GPU N), throws one
// ma::Error line naming the device and why.
at::Device parse_device(const std::string& name);

}  // namespace ma
