// The caching CPU allocator (util/cpu_allocator.h): large blocks are reused
// by size, small ones left to libtorch's default allocator, oneDNN's raw
// interface works, the cap is honoured and results are unchanged.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include "nn/layers.h"
#include "util/cpu_allocator.h"

namespace ma {
namespace {

class AllocationCache : public ::testing::Test {
 protected:
  void SetUp() override {
    enable_allocation_cache(int64_t{256} << 20);
    release_allocation_cache();
  }
  void TearDown() override { enable_allocation_cache(int64_t{256} << 20); }
};

TEST_F(AllocationCache, ReusesALargeBlockOfTheSameSize) {
  const AllocationCacheStats before = allocation_cache_stats();
  ASSERT_TRUE(before.installed);
  void* first = nullptr;
  {
    at::Tensor t = at::empty({4, 1024, 1024});  // 16 MiB
    first = t.data_ptr();
    t.fill_(1);
  }
  EXPECT_GE(allocation_cache_stats().cached_bytes, int64_t{16} << 20);
  at::Tensor again = at::empty({2, 2048, 1024});  // same byte size, other shape
  EXPECT_EQ(again.data_ptr(), first);
  const AllocationCacheStats after = allocation_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1);
  EXPECT_EQ(after.misses, before.misses + 1);
  // Blocks start on a huge-page boundary.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again.data_ptr()) % (2 << 20), 0u);
}

TEST_F(AllocationCache, ASlightlyLargerBlockServesButNotAMuchLargerOne) {
  void* big = nullptr;
  {
    at::Tensor t = at::empty({20 << 18});  // 20 MiB
    big = t.data_ptr();
  }
  {
    at::Tensor half = at::empty({10 << 18});  // 10 MiB: the 20 MiB block would waste half
    EXPECT_NE(half.data_ptr(), big);
  }
  at::Tensor close = at::empty({17 << 18});  // 17 MiB: within 25%
  EXPECT_EQ(close.data_ptr(), big);
}

TEST_F(AllocationCache, SmallTensorsBypassIt) {
  const AllocationCacheStats before = allocation_cache_stats();
  { at::Tensor t = at::ones({100, 100}); }
  const AllocationCacheStats after = allocation_cache_stats();
  EXPECT_EQ(after.hits + after.misses, before.hits + before.misses);
}

TEST_F(AllocationCache, CapZeroKeepsNothing) {
  enable_allocation_cache(0);
  { at::Tensor t = at::empty({8, 1024, 1024}); }
  EXPECT_EQ(allocation_cache_stats().cached_bytes, 0);
  EXPECT_EQ(allocation_cache_stats().mapped_bytes, 0);
}

TEST_F(AllocationCache, CapBoundsTheCachedBytes) {
  enable_allocation_cache(int64_t{40} << 20);
  {
    std::vector<at::Tensor> many;
    for (int i = 1; i <= 6; ++i) many.push_back(at::empty({i * (int64_t{1} << 20) / 4 * 4}));  // 4..24 MiB
  }
  EXPECT_LE(allocation_cache_stats().cached_bytes, int64_t{40} << 20);
  release_allocation_cache();
  EXPECT_EQ(allocation_cache_stats().cached_bytes, 0);
}

TEST_F(AllocationCache, RawInterfaceAsOneDnnUsesIt) {
  c10::Allocator* alloc = c10::GetCPUAllocator();
  ASSERT_NE(alloc->raw_deleter(), nullptr);
  for (size_t n : {size_t{100}, size_t{3} << 20}) {
    void* p = alloc->raw_allocate(n);
    ASSERT_NE(p, nullptr);
    std::memset(p, 7, n);
    alloc->raw_deallocate(p);
  }
}

TEST_F(AllocationCache, ComputationsUnchanged) {
  // A convolution (oneDNN) and a matmul (BLAS) over reused blocks give the
  // same results as over fresh ones.
  at::manual_seed(1);
  nn::Conv2d conv(16, 32, 3, 1, 1);
  conv.weight = at::randn({32, 16, 3, 3});
  conv.bias = at::randn({32});
  at::Tensor x = at::randn({8, 16, 64, 64});
  at::Tensor first = conv.forward(x).clone();
  at::Tensor mm_first = at::mm(x.view({-1, 64}), x.view({-1, 64}).t().slice(1, 0, 512)).clone();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(at::equal(conv.forward(x), first));
    EXPECT_TRUE(at::equal(at::mm(x.view({-1, 64}), x.view({-1, 64}).t().slice(1, 0, 512)), mm_first));
  }
  EXPECT_GT(allocation_cache_stats().hits, 0);
}

}  // namespace
}  // namespace ma
