// The fixtures' public case (the original pipeline on the tiny random-weight
// models: 20 frames at 64x64, 3 DDIM steps, window 16 / overlap 4, guidance
// 7.5, seed 1) run through the engine, keeping every tapped tensor.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

#include "weights/model_paths.h"
#include "pipeline/animation.h"
#include "test_util.h"

namespace ma::test {

inline AnimationParams public_case_params() {
  AnimationParams p;
  p.width = p.height = 64;
  p.steps = 3;
  p.guidance = 7.5;
  p.seed = 1;
  p.context = 16;
  p.overlap = 4;
  return p;
}

// The engine's options for the tests: the device from MA_TEST_DEVICE.
inline EngineOptions test_engine_options() {
  EngineOptions options;
  options.device = test_device();
  return options;
}

// Every tensor the engine taps on the golden inputs, as float32 CPU copies.
inline std::map<std::string, at::Tensor> run_public_case(const EngineOptions& options = test_engine_options()) {
  std::map<std::string, at::Tensor> out;
  Animator animator(resolve_model_paths(models_dir()), options);
  const at::Tensor control = golden("input.control_u8").slice(0, 0, 20);  // the original 20 frames
  animator.animate(golden("input.source_image_u8"), control, public_case_params(), {}, nullptr,
                   [&](const std::string& name, const at::Tensor& v) { out[name] = v.to(at::kCPU).to(at::kFloat).clone(); });
  return out;
}

}  // namespace ma::test
