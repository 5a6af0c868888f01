// The full-size module trees match the real released checkpoints key for key
// and shape for shape (tests/data/manifests, listed from the original model
// classes), without allocating any weight: this is what proves the real
// weights load.
#include <gtest/gtest.h>

#include "util/config.h"
#include "models/controlnet.h"
#include "models/sd15_configs.h"
#include "models/unet.h"
#include "tests/test_util.h"

namespace ma {
namespace {

std::map<std::string, std::vector<int64_t>> manifest(const std::string& name) {
  Json j = read_json_file(test::data_dir() + "/manifests/" + name + ".json");
  std::map<std::string, std::vector<int64_t>> out;
  for (auto& [key, v] : j["keys"].items()) out[key] = v["shape"].get<std::vector<int64_t>>();
  return out;
}

void expect_matches(const nn::Module& m, const std::string& name) {
  nn::LoadReport r = nn::compare_shapes(m, manifest(name));
  EXPECT_TRUE(r.ok()) << r.describe(name);
}

TEST(Manifest, Unet3DMatchesFullInflatedStateDict) {
  UNetModel unet(UNetConfig::from_json(sd15_unet_config(), "sd15"), UNetKind::kVideo);
  expect_matches(unet, "unet3d_full");
}

TEST(Manifest, Unet2DWeightsAreExactlyTheNonTemporalKeys) {
  UNetModel unet(UNetConfig::from_json(sd15_unet_config(), "sd15"), UNetKind::kImage);
  expect_matches(unet, "unet");
}

TEST(Manifest, MotionModuleKeysAreTheTemporalPart) {
  UNetModel unet(UNetConfig::from_json(sd15_unet_config(), "sd15"), UNetKind::kVideo);
  auto motion = manifest("temporal_attention");
  size_t found = 0;
  for (const auto& p : unet.state_entries())
    if (p.name.find("motion_modules") != std::string::npos) {
      ++found;
      auto it = motion.find(p.name);
      ASSERT_NE(it, motion.end()) << p.name;
      EXPECT_EQ(it->second, p.shape) << p.name;
    }
  EXPECT_EQ(found, motion.size());
}

TEST(Manifest, AppearanceEncoder) {
  UNetModel encoder(UNetConfig::from_json(sd15_unet_config(), "sd15"), UNetKind::kAppearanceEncoder);
  expect_matches(encoder, "appearance_encoder");
}

TEST(Manifest, DensePoseControlNet) {
  ControlNetModel net(UNetConfig::from_json(sd15_controlnet_config(), "controlnet"));
  expect_matches(net, "densepose_controlnet");
}

TEST(Manifest, AMissingLayerIsReportedByName) {
  // The comparison itself can fail: the 2D tree lacks every motion-module key.
  UNetModel unet(UNetConfig::from_json(sd15_unet_config(), "sd15"), UNetKind::kImage);
  nn::LoadReport r = nn::compare_shapes(unet, manifest("unet3d_full"));
  ASSERT_FALSE(r.unexpected.empty());
  EXPECT_NE(r.unexpected.front().find("motion_modules"), std::string::npos);
}

}  // namespace
}  // namespace ma
