// load_weights over every fixture checkpoint, across formats and precisions,
// plus the state_dict / prefix handling the original's motion-module loader does.
#include <cmath>
#include <filesystem>
#include <set>

#include "util/config.h"
#include "weights/weights.h"
#include "test_util.h"
#include "torch_pickle_writer.h"
#include "util/error.h"

namespace ma {
namespace {

namespace fs = std::filesystem;

std::string model_file(const std::string& rel) { return test::models_dir() + "/" + rel; }

std::set<std::string> keys_of(const TensorMap& m) {
  std::set<std::string> k;
  for (const auto& kv : m) k.insert(kv.first);
  return k;
}

TEST(Weights, EveryFixtureWeightFileLoads) {
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(test::models_dir())) {
    const std::string path = entry.path().string();
    if (!entry.is_regular_file() || !is_weight_file(path)) continue;
    ++files;
    TensorMap m = load_weights(path);
    EXPECT_FALSE(m.empty()) << path;
    ShapeMap shapes = read_weight_shapes(path);
    EXPECT_EQ(shapes.size(), m.size()) << path;
    for (const auto& [name, t] : m) {
      if (at::isFloatingType(t.scalar_type())) {
        EXPECT_EQ(t.scalar_type(), at::kFloat) << path << " " << name;
        EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << path << " " << name;
      }
      EXPECT_EQ(t.sizes().vec(), shapes.at(name)) << path << " " << name;
    }
  }
  // FIXTURES.md: 7 .safetensors (one of them fp16), 2 .bin copies, 1 .ckpt.
  EXPECT_EQ(files, 10);
}

void expect_identical(const std::string& bin, const std::string& safetensors) {
  TensorMap a = load_weights_as_stored(model_file(bin));
  TensorMap b = load_weights_as_stored(model_file(safetensors));
  ASSERT_EQ(keys_of(a), keys_of(b));
  for (const auto& [name, t] : a) {
    EXPECT_EQ(t.scalar_type(), b.at(name).scalar_type()) << name;
    EXPECT_TRUE(at::equal(t, b.at(name))) << name << " differs between " << bin << " and " << safetensors;
  }
}

TEST(Weights, UnetBinEqualsSafetensorsExactly) {
  expect_identical("stable-diffusion-v1-5/unet/diffusion_pytorch_model.bin",
                   "stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors");
}

TEST(Weights, TextEncoderBinEqualsSafetensorsExactly) {
  expect_identical("stable-diffusion-v1-5/text_encoder/pytorch_model.bin",
                   "stable-diffusion-v1-5/text_encoder/model.safetensors");
}

TEST(Weights, Fp16ControlNetMatchesFp32WithinHalfPrecision) {
  const std::string dir = "MagicAnimate/densepose_controlnet/";
  TensorMap stored = load_weights_as_stored(model_file(dir + "diffusion_pytorch_model.fp16.safetensors"));
  TensorMap half = load_weights(model_file(dir + "diffusion_pytorch_model.fp16.safetensors"));
  TensorMap full = load_weights(model_file(dir + "diffusion_pytorch_model.safetensors"));
  ASSERT_EQ(keys_of(half), keys_of(full));
  for (const auto& [name, h] : half) {
    EXPECT_EQ(stored.at(name).scalar_type(), at::kHalf) << name;
    EXPECT_EQ(h.scalar_type(), at::kFloat) << name;  // converted to the requested dtype
    // Rounding to binary16 (11-bit significand) moves a normal value by at most
    // 2^-11 of itself; subnormals (|x| < 2^-14) by at most half their 2^-24 spacing.
    at::Tensor f = full.at(name);
    at::Tensor bound = at::maximum(f.abs() * std::ldexp(1.0, -11), at::full_like(f, std::ldexp(1.0, -25)));
    EXPECT_TRUE(((h - f).abs() <= bound).all().item<bool>()) << name;
  }
}

TEST(Weights, TemporalAttentionKeysMatchManifest) {
  TensorMap m = load_weights(model_file("MagicAnimate/temporal_attention/temporal_attention.ckpt"));
  Json manifest = read_json_file(test::data_dir() + "/manifests/temporal_attention.json");
  std::set<std::string> expected;
  for (auto it = manifest["keys"].begin(); it != manifest["keys"].end(); ++it) expected.insert(it.key());
  EXPECT_EQ(keys_of(m), expected);
}

TEST(Weights, ConvertsFloatsButKeepsIntegers) {
  const std::string path = model_file("stable-diffusion-v1-5/text_encoder/pytorch_model.bin");
  TensorMap stored = load_weights_as_stored(path);
  TensorMap half = load_weights(path, {at::kHalf, at::kCPU});
  int integer_tensors = 0;
  for (const auto& [name, t] : stored) {
    if (at::isFloatingType(t.scalar_type())) {
      EXPECT_EQ(half.at(name).scalar_type(), at::kHalf) << name;
    } else {
      ++integer_tensors;
      EXPECT_EQ(half.at(name).scalar_type(), t.scalar_type()) << name;
      EXPECT_TRUE(at::equal(half.at(name), t)) << name;
    }
  }
  EXPECT_GT(integer_tensors, 0) << "the CLIP fixture stores position_ids as int64";
}

TEST(Weights, UnwrapsStateDictAndStripsTrainingPrefixes) {
  test::PickleWriter p;
  p.proto().empty_dict().mark();
  p.str("global_step").integer(5000);
  p.str("state_dict").empty_dict().mark();
  p.str("module.down.weight").tensor("FloatStorage", "0", 2, 0, {2}, {1});
  p.str("unet.up.bias").tensor("FloatStorage", "0", 2, 1, {1}, {1});
  p.str("plain").tensor("FloatStorage", "0", 2, 0, {1}, {1});
  p.str("unet.module.mid.weight").tensor("FloatStorage", "0", 2, 0, {1}, {1});
  p.setitems();
  p.str("optimizer").empty_dict().str("exp_avg").tensor("FloatStorage", "0", 2, 0, {2}, {1}).setitem();
  p.setitems().stop();
  const std::string path = test::temp_dir("wrapped") + "/mm.ckpt";
  test::write_torch_zip(path, p.bytes(), {{"0", test::float_bytes({3.f, 4.f})}});
  TensorMap m = load_weights(path);
  EXPECT_EQ(keys_of(m), (std::set<std::string>{"down.weight", "up.bias", "plain", "mid.weight"}));
  EXPECT_EQ(m.at("up.bias").item<float>(), 4.f);
}

TEST(Weights, PrefixCollisionIsAnError) {
  test::PickleWriter p;
  p.proto().empty_dict().mark();
  p.str("module.w").tensor("FloatStorage", "0", 1, 0, {1}, {1});
  p.str("w").tensor("FloatStorage", "0", 1, 0, {1}, {1});
  p.setitems().stop();
  const std::string path = test::temp_dir("collision") + "/c.pth";
  test::write_torch_zip(path, p.bytes(), {{"0", test::float_bytes({1.f})}});
  EXPECT_THROW(load_weights(path), Error);
}

TEST(Weights, UnsupportedExtensionAndMissingFile) {
  try {
    load_weights(model_file("stable-diffusion-v1-5/unet/config.json"));
    ADD_FAILURE() << "config.json loaded as weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported weight file format"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_weights("/nonexistent/model.safetensors"), Error);
  EXPECT_THROW(load_weights("/nonexistent/model.bin"), Error);
  EXPECT_THROW(read_weight_shapes("/nonexistent/model.ckpt"), Error);
}

}  // namespace
}  // namespace ma
