// `magicanimate inspect` run as a program: its listing must agree with the
// file's own header (parsed here independently) and errors must be one line.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "util/config.h"
#include "weights/safetensors.h"
#include "test_util.h"
#include "torch_pickle_writer.h"

namespace ma {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

RunResult run_inspect(const std::string& args) {
  const std::string err_file = test::temp_dir("inspect_stderr") + "/stderr.txt";
  const std::string cmd = std::string("'") + MA_BINARY + "' inspect " + args + " 2>'" + err_file + "'";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_file);
  return r;
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// The safetensors header read straight from the file with nlohmann, not our parser.
nlohmann::json raw_header(const std::string& path) {
  const std::string bytes = slurp(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return nlohmann::json::parse(bytes.substr(8, n));
}

TEST(InspectCli, JsonListingMatchesSafetensorsHeader) {
  const std::string path = test::models_dir() + "/stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors";
  RunResult r = run_inspect(quoted(path) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out);
  nlohmann::json header = raw_header(path);
  uint64_t expected_params = 0;
  size_t expected_count = 0;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    ++expected_count;
    uint64_t numel = 1;
    for (const auto& d : it.value()["shape"]) numel *= d.get<uint64_t>();
    expected_params += numel;
  }
  EXPECT_EQ(out["format"], "safetensors");
  EXPECT_EQ(out["tensor_count"].get<size_t>(), expected_count);
  EXPECT_EQ(out["parameter_count"].get<uint64_t>(), expected_params);
  ASSERT_EQ(out["tensors"].size(), expected_count);
  for (const auto& t : out["tensors"]) {
    const auto& h = header.at(t["name"].get<std::string>());
    EXPECT_EQ(t["dtype"], h["dtype"]) << t["name"];
    EXPECT_EQ(t["shape"], h["shape"]) << t["name"];
  }
}

TEST(InspectCli, PickleListingEqualsItsSafetensorsTwin) {
  const std::string dir = test::models_dir() + "/stable-diffusion-v1-5/text_encoder/";
  RunResult bin = run_inspect(quoted(dir + "pytorch_model.bin") + " --json");
  RunResult st = run_inspect(quoted(dir + "model.safetensors") + " --json");
  ASSERT_EQ(bin.exit_code, 0) << bin.err;
  ASSERT_EQ(st.exit_code, 0) << st.err;
  nlohmann::json a = nlohmann::json::parse(bin.out), b = nlohmann::json::parse(st.out);
  EXPECT_EQ(a["format"], "torch-zip-pickle");
  EXPECT_EQ(a["tensors"], b["tensors"]);  // same names, dtypes (F32 and I64) and shapes
  EXPECT_EQ(a["parameter_count"], b["parameter_count"]);
}

TEST(InspectCli, MotionModuleCheckpointListsManifestKeys) {
  RunResult r = run_inspect(
      quoted(test::models_dir() + "/MagicAnimate/temporal_attention/temporal_attention.ckpt") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json out = nlohmann::json::parse(r.out);
  Json manifest = read_json_file(test::data_dir() + "/manifests/temporal_attention.json");
  std::set<std::string> listed, expected;
  for (const auto& t : out["tensors"]) listed.insert(t["name"].get<std::string>());
  for (auto it = manifest["keys"].begin(); it != manifest["keys"].end(); ++it) expected.insert(it.key());
  EXPECT_EQ(listed, expected);
}

TEST(InspectCli, TableShowsTensorsTotalsAndMetadata) {
  const std::string path = test::temp_dir("inspect_table") + "/small.safetensors";
  TensorMap t;
  t["layer.weight"] = at::zeros({3, 4}, at::kHalf);
  t["layer.bias"] = at::zeros({4}, at::kFloat);
  save_safetensors(path, t, {{"format", "pt"}, {"note", "hello"}});
  RunResult r = run_inspect(quoted(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("layer.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[3, 4]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 tensors, 16 parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: hello"), std::string::npos) << r.out;
  nlohmann::json j = nlohmann::json::parse(run_inspect(quoted(path) + " --json").out);
  EXPECT_EQ(j["metadata"]["note"], "hello");
  EXPECT_EQ(j["metadata"]["format"], "pt");
}

TEST(InspectCli, ErrorsAreOneLineAndExitNonZero) {
  RunResult missing = run_inspect("/nonexistent/weights.safetensors");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/weights.safetensors"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;

  test::PickleWriter p;
  p.proto().global("os", "system").str("touch /tmp/pwned").op(0x85).op('R').stop();
  const std::string evil = test::temp_dir("inspect_evil") + "/evil.bin";
  test::write_torch_zip(evil, p.bytes(), {});
  RunResult r = run_inspect(quoted(evil));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("forbidden global 'os.system'"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace ma
