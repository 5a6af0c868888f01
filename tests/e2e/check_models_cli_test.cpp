// `magicanimate check-models` accepts the fixture models folder and rejects a
// copy with one corrupted tensor, naming that tensor (runs MA_BINARY).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "weights/safetensors.h"
#include "tests/test_util.h"
#include "native_models.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

struct Result {
  int status;
  std::string output;
};

Result run(const std::string& args) {
  std::string cmd = std::string(MA_BINARY) + " check-models " + args + " 2>&1";
  Result r{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  r.status = WEXITSTATUS(pclose(p));
  return r;
}

fs::path copy_models() {
  fs::path dir = fs::temp_directory_path() / ("ma_check_models_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::copy(test::models_dir(), dir, fs::copy_options::recursive);
  return dir;
}

TEST(CheckModelsCli, AcceptsFixtureModels) {
  Result r = run(test::models_dir());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("all model parts pass"), std::string::npos) << r.output;
}

TEST(CheckModelsCli, PrintsTheNativeSizeWhenRecorded) {
  EXPECT_EQ(run("--no-values " + test::models_dir()).output.find("native size"), std::string::npos);
  test::TempDir tmp;
  test::make_native_models(tmp / "models", {64, 48});
  Result r = run("--no-values " + tmp / "models");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("native size 64x48"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("all model parts pass"), std::string::npos) << r.output;
}

TEST(CheckModelsCli, BrokenModelInfoIsOneClearError) {
  test::TempDir tmp;
  test::make_native_models(tmp / "models", {64, 64});
  std::ofstream(tmp / "models/magicanimate.json") << "{\"native_width\": 64,";
  Result r = run("--no-values " + tmp / "models");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(tmp / "models/magicanimate.json"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not valid JSON"), std::string::npos) << r.output;
}

TEST(CheckModelsCli, NamesACorruptedTensor) {
  fs::path dir = copy_models();
  const std::string file = (dir / "MagicAnimate/densepose_controlnet/diffusion_pytorch_model.safetensors").string();
  const std::string victim = "controlnet_mid_block.weight";
  SafetensorsHeader h = read_safetensors_header(file);
  uint64_t offset = 0;
  for (const auto& e : h.entries)
    if (e.name == victim) offset = h.data_offset + e.begin;
  ASSERT_GT(offset, 0u);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    const uint32_t nan_bits = 0x7fc00000u;  // a float32 NaN written over the first value
    f.write(reinterpret_cast<const char*>(&nan_bits), sizeof nan_bits);
  }
  Result r = run(dir.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(victim), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CheckModelsCli, NamesAMissingTensor) {
  fs::path dir = copy_models();
  const std::string file = (dir / "MagicAnimate/appearance_encoder/diffusion_pytorch_model.safetensors").string();
  TensorMap w = load_safetensors(file);
  for (auto& kv : w) kv.second = kv.second.clone();  // detach from the mapping before rewriting
  w.erase("mid_block.resnets.0.conv1.weight");
  save_safetensors(file, w);
  Result r = run(dir.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("mid_block.resnets.0.conv1.weight"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CheckModelsCli, MissingFolderIsOneClearError) {
  Result r = run("/nonexistent/models");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("/nonexistent/models"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ma
