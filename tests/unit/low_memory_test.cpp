// Low-memory mode (EngineOptions::low_memory, weights/mapped_pages.h): weights
// memory-mapped from .safetensors files give their pages back between uses,
// values unchanged, anonymous memory untouched, written mappings kept; weights
// that do not map as they are get mapped from a temporary file; and an
// animation is the same with and without it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "bench/memory.h"
#include "pipeline/animation.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"
#include "weights/mapped_pages.h"
#include "weights/model_paths.h"
#include "weights/safetensors.h"

namespace ma {
namespace {

constexpr int64_t kFloats = 16 << 20;  // 64 MiB: far above the RSS noise of a test process

// A file of one 64 MiB tensor, loaded memory-mapped; `copy` is the same values
// in anonymous memory.
struct MappedWeight {
  test::TempDir dir;
  at::Tensor copy, mapped;
  TensorMap map;
  MappedWeight() {
    at::manual_seed(7);
    copy = at::randn({kFloats});
    save_safetensors(dir / "w.safetensors", {{"w", copy}});
    map = load_safetensors(dir / "w.safetensors");
    mapped = map.at("w");
  }
};

TEST(LowMemory, FileBackedPagesLeaveResidentMemoryAndComeBackUnchanged) {
  MappedWeight w;
  const auto bytes = static_cast<int64_t>(w.mapped.nbytes());
  ASSERT_EQ(file_backed_bytes(w.mapped), bytes) << "the loader no longer aliases the file mapping";
  EXPECT_EQ(file_backed_bytes(w.copy), 0);

  ASSERT_TRUE(at::equal(w.mapped, w.copy));  // touches every page
  const int64_t touched = bench::current_rss_bytes();
  const PageRelease r = release_file_pages({w.mapped, w.copy});
  const int64_t released = bench::current_rss_bytes();
  std::printf("RSS %.1f MB with the mapped weight touched, %.1f MB after the release (%.1f MB of file-backed data)\n",
              bench::to_mb(touched), bench::to_mb(released), bench::to_mb(bytes));
  EXPECT_EQ(r.file_backed_bytes, bytes);
  EXPECT_EQ(r.skipped_bytes, 0);
  // All but the partial pages at the ends go; 90% leaves room for whatever
  // else the process maps meanwhile.
  EXPECT_GT(touched - released, bytes * 9 / 10);

  // Paged back in from the file on the next use, the same values; the
  // anonymous copy was never touched.
  EXPECT_TRUE(at::equal(w.mapped, w.copy));
  EXPECT_GT(bench::current_rss_bytes() - released, bytes * 9 / 10);
}

TEST(LowMemory, AWrittenMappingIsKept) {
  MappedWeight w;
  // A write to a private mapping makes that page anonymous: dropping it would
  // lose the write, so the whole mapping stays resident.
  w.mapped[kFloats / 2] = 42.0f;
  const PageRelease r = release_file_pages({w.mapped});
  EXPECT_EQ(r.skipped_bytes, static_cast<int64_t>(w.mapped.nbytes()));
  EXPECT_EQ(w.mapped[kFloats / 2].item<float>(), 42.0f);
  EXPECT_EQ(w.mapped[0].item<float>(), w.copy[0].item<float>());
}

TEST(LowMemory, AnimationIsTheSameAndItsWeightsAreFileBacked) {
  const ModelPaths paths = resolve_model_paths(test::models_dir());
  AnimationParams p;
  p.width = p.height = 32;
  p.steps = 2;
  p.seed = 5;
  at::manual_seed(1);
  const at::Tensor source = at::randint(0, 256, {32, 32, 3}, at::TensorOptions().dtype(at::kByte));
  const at::Tensor control = at::randint(0, 256, {20, 32, 32, 3}, at::TensorOptions().dtype(at::kByte));

  EngineOptions plain;
  plain.threads = 1;
  EngineOptions low = plain;
  low.low_memory = true;
  Animator a(paths, plain), b(paths, low);
  const WeightBytes plain_bytes = a.weight_bytes(), wb = b.weight_bytes();
  // The tiny models' safetensors map as they are; the motion module is a torch
  // zip (.ckpt), read into memory, which low-memory mode writes to $TMPDIR and
  // maps back: then only integer buffers (position ids) stay resident.
  EXPECT_EQ(plain_bytes.written_to_map, 0);
  EXPECT_EQ(wb.total, plain_bytes.total);
  if (wb.not_written.empty()) {
    EXPECT_LT(plain_bytes.file_backed, wb.file_backed);
    EXPECT_GE(wb.written_to_map, wb.file_backed - plain_bytes.file_backed);
    EXPECT_GT(wb.file_backed, wb.total * 99 / 100);
  } else {
    std::printf("TMPDIR cannot hold mapped weights (%s): only the safetensors map\n", wb.not_written.c_str());
  }
  EXPECT_EQ(describe_low_memory(wb).rfind("low memory: ", 0), 0u) << describe_low_memory(wb);
  EXPECT_EQ(describe_low_memory({wb.total, 0, 0, "reason"}), "warning: --low-memory keeps every weight resident: reason");

  // Twice with low memory: the second run pages every weight back in.
  const at::Tensor expected = a.animate(source, control, p);
  EXPECT_TRUE(at::equal(b.animate(source, control, p), expected));
  EXPECT_TRUE(at::equal(b.animate(source, control, p), expected));
}

// A temporary folder that cannot be made leaves the pickled and converted
// weights resident, says why, and still maps the safetensors.
TEST(LowMemory, AnUnusableTmpdirIsReportedNotFatal) {
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  setenv("TMPDIR", "/nonexistent-magicanimate-tmpdir", 1);
  EngineOptions low;
  low.threads = 1;
  low.low_memory = true;
  WeightBytes wb;
  try {
    wb = Animator(resolve_model_paths(test::models_dir()), low).weight_bytes();
  } catch (...) {
    old ? setenv("TMPDIR", saved.c_str(), 1) : unsetenv("TMPDIR");
    throw;
  }
  old ? setenv("TMPDIR", saved.c_str(), 1) : unsetenv("TMPDIR");
  EXPECT_EQ(wb.written_to_map, 0);
  EXPECT_NE(wb.not_written.find("/nonexistent-magicanimate-tmpdir"), std::string::npos) << wb.not_written;
  EXPECT_GT(wb.file_backed, 0);
  EXPECT_NE(describe_low_memory(wb).find("the rest stays resident"), std::string::npos) << describe_low_memory(wb);
}

}  // namespace
}  // namespace ma
