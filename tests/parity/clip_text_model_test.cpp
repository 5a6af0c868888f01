// The CLIP text encoder against last_hidden_state recorded from the original
// (transformers CLIPTextModel, PyTorch 1.13 CPU float32) on the tiny fixture
// model: tests/data/cases/text/text_encoder_cases.safetensors and the public
// case's golden text.embeddings0/1.
//
// Tolerance: max |ours - original| <= 1e-4 of the tensor's largest magnitude.
// Both sides compute in float32 with the same operations, but matmul / softmax
// / layer_norm kernels may sum in a different order, which moves results by a
// few float32 ulps (~1e-7 relative) per op; 1e-4 leaves room for that through
// the layers while a wrong activation or a missing mask is far beyond it
// (checked below).
#include <ATen/ATen.h>

#include <sstream>

#include "util/config.h"
#include "weights/safetensors.h"
#include "weights/weights.h"
#include "models/clip_text_model.h"
#include "nn/module.h"
#include "test_util.h"
#include "text/clip_tokenizer.h"
#include "util/error.h"

namespace ma {
namespace {

constexpr double kTolerance = 1e-4;

std::string sci(double v) {
  std::ostringstream os;
  os << std::scientific << v;
  return os.str();
}

std::string encoder_dir() { return test::models_dir() + "/stable-diffusion-v1-5/text_encoder"; }

const TensorMap& cases() {
  static TensorMap c = load_safetensors(test::data_dir() + "/cases/text/text_encoder_cases.safetensors");
  return c;
}

// The fixture model, loaded once for all tests.
ClipTextModel& loaded_model() {
  static ClipTextModel m(encoder_dir() + "/config.json");
  static bool done = [] {
    m.load(encoder_dir() + "/model.safetensors");
    return true;
  }();
  (void)done;
  return m;
}

TEST(ClipTextModel, ReadsConfig) {
  ClipTextConfig c = ClipTextConfig::from_file(encoder_dir() + "/config.json");
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.intermediate_size, 64);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.max_position_embeddings, 77);
  EXPECT_EQ(c.vocab_size, 49408);
  EXPECT_EQ(c.hidden_act, "quick_gelu");
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-5);
}

TEST(ClipTextModel, MatchesOriginalOnEveryCase) {
  at::Tensor ids = cases().at("input_ids");
  at::Tensor expected = cases().at("last_hidden_state");
  ASSERT_EQ(ids.size(0), expected.size(0));
  at::Tensor out = loaded_model().forward(ids);
  test::expect_close(out, expected, kTolerance, "last_hidden_state (batch)");
  RecordProperty("relative_max_error", sci(test::relative_max_error(out, expected)));
  // One prompt at a time gives the same per-prompt result.
  for (int64_t i = 0; i < ids.size(0); ++i) {
    test::expect_close(loaded_model().forward(ids.narrow(0, i, 1)), expected.narrow(0, i, 1), kTolerance,
                       "case " + std::to_string(i));
  }
}

TEST(ClipTextModel, MatchesGoldenPublicCaseFromPrompt) {
  ClipTokenizer tokenizer(test::models_dir() + "/stable-diffusion-v1-5/tokenizer");
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    // Both public-case prompts are "" (FIXTURES.md).
    at::Tensor ids = tokenizer.tokenize("");
    ASSERT_TRUE(at::equal(ids, test::golden("text.ids" + n)));
    test::expect_close(loaded_model().forward(ids), test::golden("text.embeddings" + n), kTolerance,
                       "text.embeddings" + n);
  }
}

TEST(ClipTextModel, BinAndSafetensorsGiveTheSameResult) {
  TensorMap bin;
  try {
    bin = load_weights(encoder_dir() + "/pytorch_model.bin");
  } catch (const Error& e) {
    if (std::string(e.what()).find("unsupported") != std::string::npos)
      GTEST_SKIP() << "pickle loader not available yet: " << e.what();
    throw;
  }
  ClipTextModel m(encoder_dir() + "/config.json");
  m.load(bin);
  at::Tensor ids = cases().at("input_ids");
  // Same stored float32 weights, same computation: bit-identical.
  EXPECT_TRUE(at::equal(m.forward(ids), loaded_model().forward(ids)));
}

TEST(ClipTextModel, FullSizeTreeMatchesManifest) {
  Json manifest = read_json_file(test::data_dir() + "/manifests/text_encoder.json");
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [key, entry] : manifest.at("keys").items())
    shapes[key] = entry.at("shape").get<std::vector<int64_t>>();
  // SD 1.5's text encoder (CLIP ViT-L/14 text tower).
  ClipTextConfig c = ClipTextConfig::from_json(Json::parse(R"({
    "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
    "num_hidden_layers": 12, "max_position_embeddings": 77, "vocab_size": 49408,
    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05})"));
  ClipTextModel m(c);  // declares shapes only; nothing is allocated
  nn::LoadReport report = nn::compare_shapes(m, shapes);
  EXPECT_TRUE(report.ok()) << report.describe("manifest");
  EXPECT_EQ(m.num_parameters(), manifest.at("num_params").get<int64_t>());
  for (const auto& p : m.state_entries()) EXPECT_FALSE(p.slot->defined()) << p.name << " was allocated";
}

TEST(ClipTextModel, TinyTreeMatchesCheckpointHeader) {
  ClipTextModel m(encoder_dir() + "/config.json");
  nn::LoadReport report = nn::compare_shapes(m, read_weight_shapes(encoder_dir() + "/model.safetensors"));
  EXPECT_TRUE(report.ok()) << report.describe("model.safetensors");
}

// The tolerance is meaningful: plain gelu instead of quick_gelu (same weights)
// lands far outside it.
TEST(ClipTextModel, WrongActivationExceedsTolerance) {
  ClipTextConfig c = ClipTextConfig::from_file(encoder_dir() + "/config.json");
  c.hidden_act = "gelu";
  ClipTextModel m(c);
  m.load(encoder_dir() + "/model.safetensors");
  at::Tensor ids = cases().at("input_ids");
  double err = test::relative_max_error(m.forward(ids), cases().at("last_hidden_state"));
  RecordProperty("relative_max_error_with_gelu", sci(err));
  EXPECT_GT(err, 10 * kTolerance);
}

// Causal mask: a token changes its own and later positions, never earlier ones.
TEST(ClipTextModel, AttentionIsCausal) {
  at::Tensor ids = cases().at("input_ids").narrow(0, 1, 1).clone();
  at::Tensor before = loaded_model().forward(ids);
  const int64_t j = 3;
  ids.index_put_({0, j}, (ids.index({0, j}).item<int64_t>() + 1000) % 49406);
  at::Tensor after = loaded_model().forward(ids);
  EXPECT_TRUE(at::equal(before.narrow(1, 0, j), after.narrow(1, 0, j)));
  // Without the mask the first positions would move by about the tensor's scale.
  EXPECT_GT(test::relative_max_error(after.narrow(1, j, 1), before.narrow(1, j, 1)), 10 * kTolerance);
  EXPECT_GT(test::relative_max_error(after.narrow(1, 76, 1), before.narrow(1, 76, 1)), 10 * kTolerance);
}

TEST(ClipTextModel, LoadReportsEveryBadKeyByName) {
  TensorMap state = load_weights(encoder_dir() + "/model.safetensors");
  state.erase("text_model.encoder.layers.1.mlp.fc2.bias");
  state["text_model.final_layer_norm.weight"] = at::zeros({31});
  state["text_model.extra.weight"] = at::zeros({1});
  ClipTextModel m(encoder_dir() + "/config.json");
  try {
    m.load(state);
    FAIL() << "expected ma::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("text_model.encoder.layers.1.mlp.fc2.bias"), std::string::npos) << msg;
    EXPECT_NE(msg.find("text_model.final_layer_norm.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("text_model.extra.weight"), std::string::npos) << msg;
  }
  EXPECT_FALSE(m.loaded());
}

TEST(ClipTextModel, PositionIdsMayBeAbsent) {
  TensorMap state = load_weights(encoder_dir() + "/model.safetensors");
  ASSERT_TRUE(state.count("text_model.embeddings.position_ids"));
  // The stored buffer is 0..76 (what newer transformers recreate instead of saving).
  EXPECT_TRUE(at::equal(state.at("text_model.embeddings.position_ids").reshape({-1}), at::arange(77, at::kLong)));
  state.erase("text_model.embeddings.position_ids");
  ClipTextModel m(encoder_dir() + "/config.json");
  m.load(state);
  at::Tensor ids = cases().at("input_ids");
  EXPECT_TRUE(at::equal(m.forward(ids), loaded_model().forward(ids)));
}

TEST(ClipTextModel, RejectsBadInput) {
  const ClipTextModel& m = loaded_model();
  EXPECT_THROW(m.forward(at::zeros({77}, at::kLong)), Error);                 // not [B, S]
  EXPECT_THROW(m.forward(at::zeros({1, 78}, at::kLong)), Error);              // too long
  EXPECT_THROW(m.forward(at::full({1, 77}, 49408, at::kLong)), Error);        // id out of range
  EXPECT_THROW(m.forward(at::full({1, 77}, -1, at::kLong)), Error);           // negative id
  EXPECT_THROW(m.forward(at::zeros({1, 77}, at::kFloat)), Error);             // not integer
  ClipTextModel unloaded(encoder_dir() + "/config.json");
  EXPECT_THROW(unloaded.forward(at::zeros({1, 77}, at::kLong)), Error);
  EXPECT_THROW(ClipTextModel("/nonexistent/config.json"), Error);
}

TEST(ClipTextModel, BadConfigIsReported) {
  EXPECT_THROW(ClipTextConfig::from_json(Json::parse(R"({"hidden_size": 30, "num_attention_heads": 4})")), Error);
  EXPECT_THROW(ClipTextConfig::from_json(Json::parse(R"({"hidden_act": "relu"})")), Error);
  EXPECT_THROW(ClipTextConfig::from_json(Json::parse(R"({"hidden_size": "big"})")), Error);
}

}  // namespace
}  // namespace ma
