#include "test_util.h"

#include "io/safetensors.h"

namespace ma {
namespace {

TEST(Safetensors, LoadsGoldenFixture) {
  const auto& g = test::golden();
  ASSERT_TRUE(g.count("pipeline.ref_latents"));
  EXPECT_EQ(g.at("pipeline.ref_latents").sizes(), at::IntArrayRef({1, 4, 8, 8}));
  EXPECT_EQ(g.at("input.control_u8").scalar_type(), at::kByte);
  EXPECT_EQ(g.at("text.ids0").scalar_type(), at::kLong);
}

}  // namespace
}  // namespace ma
