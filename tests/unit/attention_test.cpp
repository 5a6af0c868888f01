// Memory-bounded attention: the chunked path (and whatever
// scaled_dot_product_attention picks on this libtorch) equals the plain
// reference computation within fp32 noise, for odd token counts and budgets
// that force many chunks in each of the chunking modes.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nn/attention.h"
#include "tests/test_util.h"

namespace ma {
namespace {

struct Case {
  int64_t batch, queries, keys, heads, head_dim;
};

// Several fp32 roundings per element at most; a wrong chunk boundary, scale
// or softmax axis gives errors of order 1e-1.
constexpr double kTolerance = 1e-5;

void check(const Case& c, int64_t budget) {
  at::manual_seed(c.batch * 1000 + c.queries * 10 + c.keys);
  const int64_t inner = c.heads * c.head_dim;
  at::Tensor q = at::randn({c.batch, c.queries, inner});
  at::Tensor k = at::randn({c.batch, c.keys, inner});
  at::Tensor v = at::randn({c.batch, c.keys, inner});
  at::Tensor expected = nn::attention_reference(q, k, v, c.heads);
  const std::string what = "B" + std::to_string(c.batch) + " N" + std::to_string(c.queries) + " M" +
                           std::to_string(c.keys) + " H" + std::to_string(c.heads) + " budget " + std::to_string(budget);
  test::expect_close(nn::attention_chunked(q, k, v, c.heads, budget), expected, kTolerance, "chunked " + what);
  test::expect_close(nn::scaled_dot_product_attention(q, k, v, c.heads), expected, kTolerance, "sdpa " + what);
}

TEST(Attention, ChunkedEqualsReferenceWhenEverythingFits) {
  check({2, 37, 53, 4, 8}, int64_t{1} << 30);
}

TEST(Attention, InPlaceSoftmaxGivesTheReferenceBits) {
  // One block: the same bmm, scale and softmax kernel as the reference, the
  // softmax written over the scores; any difference at all is a bug.
  at::manual_seed(21);
  at::Tensor q = at::randn({2, 45, 32}), k = at::randn({2, 90, 32}), v = at::randn({2, 90, 32});
  EXPECT_TRUE(at::equal(nn::attention_chunked(q, k, v, 4, int64_t{1} << 30), nn::attention_reference(q, k, v, 4)));
}

TEST(Attention, ChunkedOverBatchHeads) {
  // A row is M * 4 bytes; budgets holding 1..3 whole batch*head slices.
  for (const Case& c : {Case{3, 17, 29, 2, 5}, Case{2, 64, 31, 4, 8}, Case{5, 9, 9, 3, 16}}) {
    const int64_t slice_bytes = c.queries * c.keys * 4;
    for (int64_t slices : {1, 2, 3}) check(c, slices * slice_bytes);
  }
}

TEST(Attention, ChunkedOverQueries) {
  // Budgets smaller than one batch*head's scores: query chunks of 1, 7, 33 rows
  // (odd, not dividing the query count).
  for (const Case& c : {Case{2, 101, 67, 2, 8}, Case{1, 257, 130, 4, 4}, Case{3, 5, 1, 1, 3}}) {
    for (int64_t rows : {1, 7, 33}) check(c, rows * c.keys * 4);
  }
}

TEST(Attention, BudgetBelowOneRowStillWorks) {
  check({2, 13, 50, 2, 4}, 1);
}

TEST(Attention, CrossAttentionShapes) {
  // Text cross-attention (77 keys) and reference attention (keys = 2x queries).
  check({4, 64, 77, 8, 8}, 64 * 77 * 4 / 3);
  check({2, 48, 96, 8, 5}, 96 * 4 * 11);
}

TEST(Attention, ChunkingDetectsWrongMath) {
  // The comparison itself can fail: attention with the wrong scale differs.
  at::manual_seed(3);
  at::Tensor q = at::randn({2, 33, 16}) * 3, k = at::randn({2, 21, 16}), v = at::randn({2, 21, 16});
  at::Tensor one_head = nn::attention_chunked(q, k, v, 1, 21 * 4 * 5);
  EXPECT_GT(test::relative_max_error(one_head, nn::attention_reference(q, k, v, 4)), 1e-2);
}

TEST(Attention, Bfloat16ChunkedCloseToFloat) {
  at::manual_seed(5);
  at::Tensor q = at::randn({2, 45, 32}), k = at::randn({2, 61, 32}), v = at::randn({2, 61, 32});
  at::Tensor expected = nn::attention_reference(q, k, v, 4);
  at::Tensor got = nn::attention_chunked(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), 4, 61 * 2 * 9);
  EXPECT_EQ(got.scalar_type(), at::kBFloat16);
  // bfloat16 keeps 8 significant bits: ~0.4% per rounding, a few roundings deep.
  test::expect_close(got.to(at::kFloat), expected, 3e-2, "bf16 chunked");
}

TEST(Attention, ModuleOutputUnchanged) {
  // The Attention module routes through scaled_dot_product_attention.
  at::manual_seed(7);
  nn::Attention attn(24, 24, 3, 8);
  for (const auto& p : attn.parameters()) *p.slot = at::randn(p.shape) * 0.2;
  at::Tensor x = at::randn({2, 19, 24});
  at::Tensor q = attn.to_q->forward(x), k = attn.to_k->forward(x), v = attn.to_v->forward(x);
  at::Tensor expected = (*attn.to_out)[0].forward(nn::attention_reference(q, k, v, 3));
  test::expect_close(attn.forward(x), expected, kTolerance, "Attention::forward");
}

// The feed-forward in row chunks (budgets forcing 1-row, odd-sized and a
// single chunk) equals the unchunked GEGLU computation written out here.
TEST(FeedForward, ChunkedEqualsUnchunked) {
  at::manual_seed(11);
  nn::FeedForward ff(24);  // inner 96: 4 * 96 * 4 bytes = 1536 bytes of intermediates per row
  for (const auto& p : ff.parameters()) *p.slot = at::randn(p.shape) * 0.2;
  at::Tensor x = at::randn({3, 37, 24});
  auto parts = ff.geglu->proj->forward(x).chunk(2, -1);
  at::Tensor expected = ff.out->forward(parts[0] * at::gelu(parts[1]));
  for (int64_t budget : {int64_t{1}, int64_t{1536 * 7}, int64_t{1536 * 40}, int64_t{1} << 30}) {
    at::Tensor got = ff.forward(x, budget);
    ASSERT_EQ(got.sizes(), expected.sizes()) << "budget " << budget;
    test::expect_close(got, expected, kTolerance, "FeedForward, budget " + std::to_string(budget));
  }
  // Unchunked, the in-place GEGLU and the strided 2-D output projection give
  // the bits of the plain computation (the same kernels on the same values).
  EXPECT_TRUE(at::equal(ff.forward(x, int64_t{1} << 30), expected));
  // A chunking that dropped or misplaced rows would not be close.
  at::Tensor wrong = expected.clone();
  wrong[1][5] += 1.0;
  EXPECT_GT(test::relative_max_error(wrong, expected), kTolerance);
}

}  // namespace
}  // namespace ma
