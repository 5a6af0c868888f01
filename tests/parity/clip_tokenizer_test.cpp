// The CLIP tokenizer against ids recorded from the original (transformers
// CLIPTokenizer with ftfy) in tests/data/cases/text/tokenizer_cases.json and
// the public case's golden text.ids0/1. Further checks relate two of our own
// encodings by a rule of the original (e.g. a curly quote tokenizes as a
// straight one), so they never depend on our own output being right.
#include <filesystem>
#include <fstream>

#include "util/config.h"
#include "test_util.h"
#include "text/clip_tokenizer.h"
#include "util/error.h"

namespace ma {
namespace {

std::string tokenizer_dir() { return test::models_dir() + "/stable-diffusion-v1-5/tokenizer"; }

const ClipTokenizer& tokenizer() {
  static ClipTokenizer t(tokenizer_dir());
  return t;
}

const Json& cases() {
  static Json j = read_json_file(test::data_dir() + "/cases/text/tokenizer_cases.json");
  return j;
}

std::vector<int64_t> ids_of(const at::Tensor& t) {
  at::Tensor flat = t.reshape({-1}).to(at::kLong).contiguous();
  return std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
}

std::vector<int64_t> concat(std::initializer_list<std::vector<int64_t>> parts) {
  std::vector<int64_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(ClipTokenizer, ReadsSpecialTokensFromConfig) {
  const auto& t = tokenizer();
  EXPECT_EQ(t.bos_id(), 49406);
  EXPECT_EQ(t.eos_id(), 49407);
  EXPECT_EQ(t.pad_id(), 49407);  // pad_token is <|endoftext|> in the fixture config
  EXPECT_EQ(t.model_max_length(), 77);
  EXPECT_EQ(t.vocab_size(), 49408u);
}

TEST(ClipTokenizer, BpeIdsMatchOriginalOnEveryCase) {
  const Json& prompts = cases().at("prompts");
  const Json& expected = cases().at("bpe_ids_without_bos_eos");
  ASSERT_EQ(prompts.size(), expected.size());
  ASSERT_GE(prompts.size(), 10u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string prompt = prompts[i].get<std::string>();
    EXPECT_EQ(tokenizer().encode(prompt), expected[i].get<std::vector<int64_t>>()) << "prompt: " << prompt;
  }
}

TEST(ClipTokenizer, PaddedIdsMatchOriginalOnEveryCase) {
  const Json& prompts = cases().at("prompts");
  const Json& expected = cases().at("input_ids_77");
  ASSERT_EQ(prompts.size(), expected.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string prompt = prompts[i].get<std::string>();
    at::Tensor ids = tokenizer().tokenize(prompt);
    ASSERT_EQ(ids.sizes(), at::IntArrayRef({1, 77})) << prompt;
    EXPECT_EQ(ids.scalar_type(), at::kLong);
    EXPECT_EQ(ids_of(ids), expected[i].get<std::vector<int64_t>>()) << "prompt: " << prompt;
  }
}

TEST(ClipTokenizer, PublicCasePromptsMatchGolden) {
  Json c = read_json_file(test::public_case_dir() + "/case.json");
  // FIXTURES.md: prompt and negative prompt of the public run are both "".
  const std::string prompt = cfg_string(c, "prompt", "");
  const std::string negative = cfg_string(c, "negative_prompt", "");
  EXPECT_EQ(ids_of(tokenizer().tokenize(prompt)), ids_of(test::golden("text.ids0")));
  EXPECT_EQ(ids_of(tokenizer().tokenize(negative)), ids_of(test::golden("text.ids1")));
}

TEST(ClipTokenizer, TruncatesToMaxLengthKeepingEndToken) {
  // "a photo of a dancing woman" from the fixture: 6 BPE ids.
  const std::vector<int64_t> bpe = cases().at("bpe_ids_without_bos_eos").at(1).get<std::vector<int64_t>>();
  ASSERT_EQ(bpe.size(), 6u);
  const std::string prompt = cases().at("prompts").at(1).get<std::string>();
  EXPECT_EQ(ids_of(tokenizer().tokenize(prompt, 5)), (std::vector<int64_t>{49406, bpe[0], bpe[1], bpe[2], 49407}));
  EXPECT_EQ(ids_of(tokenizer().tokenize(prompt, 2)), (std::vector<int64_t>{49406, 49407}));
  EXPECT_THROW(tokenizer().tokenize(prompt, 1), Error);
}

TEST(ClipTokenizer, LiteralSpecialTokensBecomeTheirIds) {
  const auto& t = tokenizer();
  EXPECT_EQ(t.encode("a dancing woman<|endoftext|>park"),
            concat({t.encode("a dancing woman"), {49407}, t.encode("park")}));
  EXPECT_EQ(t.encode("<|startoftext|>"), (std::vector<int64_t>{49406}));
  // The pattern is case-insensitive and the text lower-cased first.
  EXPECT_EQ(t.encode("<|EndOfText|>"), (std::vector<int64_t>{49407}));
}

// ftfy.fix_text rules the fixture covers only partly; each side of these
// comparisons is what the original turns the other into.
TEST(ClipTokenizer, AppliesFtfyFixes) {
  const auto& t = tokenizer();
  EXPECT_EQ(t.encode("it\u2019s \u201cquoted\u201d"), t.encode("it's \"quoted\""));  // uncurl_quotes
  EXPECT_EQ(t.encode("\uFF21\uFF22\uFF23\u3000\uFF11"), t.encode("abc 1"));           // fix_character_width
  EXPECT_EQ(t.encode("\uFB01ne"), t.encode("fine"));                                  // fix_latin_ligatures
  EXPECT_EQ(t.encode("cafe\u0301"), t.encode("caf\u00e9"));                           // NFC
  EXPECT_EQ(t.encode("a\x1b[31mred\x1b[0m"), t.encode("ared"));                       // terminal escapes
  EXPECT_EQ(t.encode("a\xef\xbb\xbf" "b\x01"), t.encode("ab"));                       // control characters
  EXPECT_EQ(t.encode("&#65;&#x42; &quot;"), t.encode("ab \""));                     // numeric + named entities
  EXPECT_EQ(t.encode("&amp;amp;"), t.encode("&"));  // unescaped until nothing changes
  // A literal '<' means "this is HTML": entities stay as written.
  EXPECT_EQ(t.encode("< &amp;"), t.encode("< & amp ;"));
  EXPECT_EQ(t.encode("&unknownentity;"), t.encode("& unknownentity ;"));
}

TEST(ClipTokenizer, WhiteSpaceAndCaseDoNotMatter) {
  const auto& t = tokenizer();
  EXPECT_EQ(t.encode(" \t A\u00a0Photo\n\u2003"), t.encode("a photo"));
  EXPECT_TRUE(t.encode(" \n\t ").empty());
}

TEST(ClipTokenizer, InvalidUtf8DoesNotThrow) {
  EXPECT_NO_THROW(tokenizer().encode(std::string("bad \xff\xfe utf8 \xe2\x82")));
}

TEST(ClipTokenizer, MissingOrBrokenFilesAreReportedByName) {
  try {
    ClipTokenizer t("/nonexistent/tokenizer");
    FAIL() << "expected ma::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json"), std::string::npos) << e.what();
  }
  const std::string dir = ::testing::TempDir() + "/clip_tokenizer_broken";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/vocab.json") << "{not json";
  std::ofstream(dir + "/merges.txt") << "#version: 0.2\n";
  try {
    ClipTokenizer t(dir);
    FAIL() << "expected ma::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json"), std::string::npos) << e.what();
  }
  // Valid JSON, but the special tokens are not in it.
  std::ofstream(dir + "/vocab.json") << R"({"a</w>": 0})";
  EXPECT_THROW(ClipTokenizer t(dir), Error);
}

}  // namespace
}  // namespace ma
