// The benchmark's building blocks: the FLOP counter against hand-computed
// counts, the random-weight models against the real checkpoints' manifests,
// and the memory probes.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <thread>

#include "bench/flop_counter.h"
#include "bench/memory.h"
#include "bench/models.h"
#include "util/config.h"
#include "models/autoencoder_kl.h"
#include "models/clip_text_model.h"
#include "models/controlnet.h"
#include "models/unet.h"
#include "nn/attention.h"
#include "nn/layers.h"
#include "text/clip_tokenizer.h"
#include "tests/test_util.h"

namespace ma {
namespace {

using bench::FlopCounter;

void randomize(nn::Module& m) {
  for (const auto& p : m.state_entries()) *p.slot = at::randn(p.shape) * 0.1;
}

TEST(FlopCounter, LinearIsTwiceMultiplyAdds) {
  nn::Linear layer(24, 40);
  randomize(layer);
  at::Tensor x = at::randn({3, 17, 24});
  FlopCounter counter;
  (void)layer.forward(x);
  EXPECT_DOUBLE_EQ(counter.counts().linear, 2.0 * 3 * 17 * 24 * 40);
  EXPECT_EQ(counter.counts().conv, 0);
  EXPECT_EQ(counter.counts().attention, 0);
}

TEST(FlopCounter, LinearWithoutBiasAnd2DInput) {
  nn::Linear layer(8, 5, false);
  randomize(layer);
  FlopCounter counter;
  (void)layer.forward(at::randn({7, 8}));
  (void)layer.forward(at::randn({2, 3, 8}).transpose(0, 1));  // non-contiguous: the matmul path
  EXPECT_DOUBLE_EQ(counter.counts().linear, 2.0 * 7 * 8 * 5 + 2.0 * 6 * 8 * 5);
}

TEST(FlopCounter, ConvolutionCountsOutputPositions) {
  // 3x3, stride 2, padding 1 on 15x15: 8x8 outputs.
  nn::Conv2d conv(6, 10, 3, 2, 1);
  randomize(conv);
  FlopCounter counter;
  at::Tensor y = conv.forward(at::randn({2, 6, 15, 15}));
  ASSERT_EQ(y.sizes(), (at::IntArrayRef{2, 10, 8, 8}));
  EXPECT_DOUBLE_EQ(counter.counts().conv, 2.0 * 2 * 10 * 8 * 8 * 6 * 3 * 3);
  EXPECT_EQ(counter.counts().linear, 0);  // the convolution's own GEMMs are not counted twice
  // Its time is attributed to convolutions only.
  EXPECT_GT(counter.counts().conv_s, 0);
  EXPECT_EQ(counter.counts().linear_s, 0);
  EXPECT_EQ(counter.counts().attention_s, 0);
}

TEST(FlopCounter, AttentionCountsBothMatmuls) {
  const int64_t b = 2, n = 33, m = 21, heads = 4, d = 8;
  at::Tensor q = at::randn({b, n, heads * d}), k = at::randn({b, m, heads * d}), v = at::randn({b, m, heads * d});
  const double expected = 4.0 * b * heads * n * m * d;  // q.k^T and p.v
  {
    FlopCounter counter;
    (void)nn::scaled_dot_product_attention(q, k, v, heads);
    EXPECT_DOUBLE_EQ(counter.counts().attention, expected);
  }
  {
    // Chunked into many pieces: the same total.
    FlopCounter counter;
    (void)nn::attention_chunked(q, k, v, heads, m * 4 * 5);
    EXPECT_DOUBLE_EQ(counter.counts().attention, expected);
  }
}

TEST(FlopCounter, CountsOnlyWhileAliveAndOnlyItsThread) {
  nn::Linear layer(16, 16);
  randomize(layer);
  at::Tensor x = at::randn({4, 16});
  (void)layer.forward(x);  // before: not counted anywhere
  FlopCounter counter;
  std::thread other([&] { (void)layer.forward(x); });
  other.join();
  EXPECT_EQ(counter.counts().total(), 0);
  (void)layer.forward(x);
  EXPECT_DOUBLE_EQ(counter.counts().total(), 2.0 * 4 * 16 * 16);
  counter.reset();
  EXPECT_EQ(counter.counts().total(), 0);
}

TEST(FlopCounter, WorksUnderInferenceModeAndRefusesNesting) {
  c10::InferenceMode guard;
  nn::Linear layer(4, 4);
  randomize(layer);
  FlopCounter counter;
  (void)layer.forward(at::randn({1, 4}));
  EXPECT_DOUBLE_EQ(counter.counts().linear, 2.0 * 4 * 4);
  EXPECT_THROW(FlopCounter second, std::logic_error);
}

TEST(FlopCounter, TinyUNetCountsEveryKindOfLayer) {
  // A whole UNet forward: convolutions, linear layers and attention all seen.
  c10::InferenceMode guard;
  UNetModel unet(UNetConfig::load(test::models_dir() + "/stable-diffusion-v1-5/unet/config.json"), UNetKind::kImage);
  randomize(unet);
  at::Tensor sample = at::randn({1, 4, 8, 8}), text = at::randn({1, 77, unet.config().cross_attention_dim});
  FlopCounter counter;
  (void)unet.forward(sample, 10, text, 1, nullptr, nullptr, false);
  // conv_in alone is 2 * 8*8 outputs * 32 channels * 4*3*3: a lower bound, and
  // the counts must be in the range of a tiny UNet.
  EXPECT_GT(counter.counts().conv, 2.0 * 64 * 32 * 4 * 9);
  EXPECT_GT(counter.counts().linear, 0);
  EXPECT_GT(counter.counts().attention, 0);
  EXPECT_LT(counter.counts().total(), 1e9);
}

Json manifest_keys(const std::string& name, std::map<std::string, std::vector<int64_t>>* shapes) {
  Json j = read_json_file(test::data_dir() + "/manifests/" + name + ".json");
  for (auto& [key, v] : j["keys"].items()) (*shapes)[key] = v["shape"].get<std::vector<int64_t>>();
  return j;
}

TEST(BenchModels, FullSizeVaeMatchesTheRealCheckpoint) {
  AutoencoderKL vae(AutoencoderKLConfig::from_json(bench::sd15_vae_config()));
  std::map<std::string, std::vector<int64_t>> shapes;
  Json j = manifest_keys("vae", &shapes);
  nn::LoadReport r = nn::compare_shapes(vae, shapes);
  EXPECT_TRUE(r.ok()) << r.describe("vae manifest");
  EXPECT_EQ(vae.num_parameters(), j["num_params"].get<int64_t>());
}

TEST(BenchModels, FullSizeTextEncoderMatchesTheRealCheckpoint) {
  ClipTextModel text(ClipTextConfig::from_json(bench::sd15_text_encoder_config()));
  std::map<std::string, std::vector<int64_t>> shapes;
  Json j = manifest_keys("text_encoder", &shapes);
  nn::LoadReport r = nn::compare_shapes(text, shapes);
  EXPECT_TRUE(r.ok()) << r.describe("text encoder manifest");
  EXPECT_EQ(text.num_parameters(), j["num_params"].get<int64_t>());
}

TEST(BenchModels, RandomStateCoversEveryParameter) {
  ClipTextModel text(test::models_dir() + "/stable-diffusion-v1-5/text_encoder/config.json");
  TensorMap state = bench::random_state(text, DeviceDtype{at::kBFloat16, at::kCPU}, 3);
  const auto params = text.state_entries();
  ASSERT_EQ(state.size(), params.size());
  for (const auto& p : params) {
    ASSERT_TRUE(state.count(p.name)) << p.name;
    const at::Tensor& t = state.at(p.name);
    EXPECT_EQ(t.sizes().vec(), p.shape) << p.name;
    EXPECT_EQ(t.scalar_type(), p.floating ? at::kBFloat16 : at::kLong) << p.name;
  }
  // Integer buffers count up; norm scales sit near 1, matrices near 0.
  EXPECT_EQ(state.at("text_model.embeddings.position_ids")[0][5].item<int64_t>(), 5);
  EXPECT_NEAR(state.at("text_model.final_layer_norm.weight").to(at::kFloat).mean().item<double>(), 1.0, 0.05);
  const at::Tensor w = state.at("text_model.encoder.layers.0.mlp.fc1.weight").to(at::kFloat);
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.005);
  // Deterministic per seed.
  TensorMap again = bench::random_state(text, DeviceDtype{at::kBFloat16, at::kCPU}, 3);
  TensorMap other = bench::random_state(text, DeviceDtype{at::kBFloat16, at::kCPU}, 4);
  EXPECT_TRUE(at::equal(again.at("text_model.encoder.layers.0.mlp.fc1.weight"),
                        state.at("text_model.encoder.layers.0.mlp.fc1.weight")));
  EXPECT_FALSE(at::equal(other.at("text_model.encoder.layers.0.mlp.fc1.weight"),
                         state.at("text_model.encoder.layers.0.mlp.fc1.weight")));
}

TEST(BenchModels, TinyModelSetFromAFolderRuns) {
  c10::InferenceMode guard;
  EngineModels m = bench::build_random_models(test::models_dir(), DeviceDtype{at::kFloat, at::kCPU});
  ASSERT_TRUE(m.tokenizer && m.text_encoder && m.vae && m.appearance_encoder && m.controlnet && m.unet);
  EXPECT_EQ(m.unet->kind(), UNetKind::kVideo);
  at::Tensor text = m.text_encoder->forward(m.tokenizer->tokenize("a dancer"));
  EXPECT_EQ(text.size(1), 77);
  EXPECT_FALSE(at::isnan(text).any().item<bool>());
  int64_t params = m.text_encoder->num_parameters() + m.vae->num_parameters() +
                   m.appearance_encoder->num_parameters() + m.controlnet->num_parameters() +
                   m.unet->num_parameters();
  // Every parameter is fp32 except CLIP's int64 position ids.
  const int64_t position_ids = m.text_encoder->config().max_position_embeddings;
  EXPECT_EQ(bench::weight_bytes(m), 4 * (params - position_ids) + 8 * position_ids);
}

TEST(BenchModels, SpecialTokensTokenizerMatchesTheRealOneOnEmptyPrompts) {
  // The full-size model set has no tokenizer files: its stand-in knows only
  // CLIP's special tokens, so the empty prompt must tokenize exactly alike.
  ClipTokenizer real(test::models_dir() + "/stable-diffusion-v1-5/tokenizer");
  auto stand_in = bench::special_tokens_tokenizer();
  EXPECT_TRUE(at::equal(stand_in->tokenize(""), real.tokenize("")));
  EXPECT_EQ(stand_in->tokenize("")[0][0].item<int64_t>(), 49406);
}

TEST(Memory, RssProbesSeeAnAllocation) {
  const int64_t before = bench::current_rss_bytes();
  ASSERT_GT(before, 0);
  bench::reset_peak_rss();
  {
    at::Tensor big = at::ones({64, 1024, 1024});  // 256 MB, touched
    EXPECT_GT(bench::current_rss_bytes(), before + (200 << 20));
  }
  EXPECT_GT(bench::peak_rss_bytes(), before + (200 << 20));
  if (bench::reset_peak_rss()) {
    EXPECT_LT(bench::peak_rss_bytes(), before + (200 << 20));
  }
}

}  // namespace
}  // namespace ma
