// Helpers shared by the test programs: fixture paths and tensor comparison
// against the original implementation's recorded outputs.
#pragma once
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "weights/safetensors.h"
#include "util/error.h"

namespace ma::test {

inline std::string data_dir() { return MA_TEST_DATA_DIR; }
inline std::string models_dir() { return data_dir() + "/models"; }
inline std::string public_case_dir() { return data_dir() + "/cases/public"; }

// The device the engine tests compute on: MA_TEST_DEVICE ("cpu", "cuda",
// "cuda:1", ...; default cpu), so that scripts/gpu-check.sh can run the
// parity tests on a GPU. The fixtures and comparisons stay on the CPU.
inline at::Device test_device() {
  const char* name = std::getenv("MA_TEST_DEVICE");
  return at::Device(name && *name ? std::string(name) : std::string("cpu"));
}

inline const TensorMap& golden() {
  static TensorMap g = load_safetensors(public_case_dir() + "/golden.safetensors");
  return g;
}

inline at::Tensor golden(const std::string& key) {
  auto it = golden().find(key);
  if (it == golden().end()) throw std::runtime_error("golden has no " + key);
  return it->second;
}

// max |a - b| relative to max |expected| (the tensor's scale).
inline double relative_max_error(const at::Tensor& actual, const at::Tensor& expected) {
  at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  double scale = std::max(e.abs().max().item<double>(), 1e-12);
  return (a - e).abs().max().item<double>() / scale;
}

// Asserts shapes equal and max error within `tol` of the expected tensor's scale.
inline void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tol,
                         const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  ASSERT_FALSE(at::isnan(actual).any().item<bool>()) << what << " has NaN";
  double err = relative_max_error(actual, expected);
  EXPECT_LE(err, tol) << what << ": max error " << err << " of scale exceeds " << tol;
}

// Expects f() to throw ma::Error with `needle` in a one-line message.
inline void expect_error_containing(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected ma::Error containing '" << needle << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
  }
}

// The ma::Error message of f(), or "" when it does not throw.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace ma::test
