// `magicanimate synth` as a user runs it: progress per clip, --quiet, and one
// line with a non-zero exit (and nothing written) for each absurd option.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_runner.h"

namespace fs = std::filesystem;

namespace ma {
namespace {

TEST(SynthCli, WritesClipsAndReportsEach) {
  test::TempDir dir;
  const std::string out = dir / "data";
  test::CliResult r = test::run_cli({"synth", "--out", out, "--clips", "2", "--frames", "3", "--size", "32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 3) << r.err;  // one line per clip, then the summary
  EXPECT_NE(r.err.find("clip 2/2"), std::string::npos) << r.err;
  EXPECT_EQ(test::files_under(out).size(), 2u * 3u * 3u + 1u);  // 3 PNGs per frame, synth.json
}

TEST(SynthCli, QuietPrintsNothing) {
  test::TempDir dir;
  test::CliResult r =
      test::run_cli({"synth", "--out", dir / "q", "--clips", "1", "--frames", "1", "--size", "32", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(fs::exists(dir / "q/clip_0000/densepose/0000.png"));
}

TEST(SynthCli, AbsurdOptionsGetOneLineAndWriteNothing) {
  test::TempDir dir;
  const std::string out = dir / "x";
  fs::create_directories(dir / "full");
  { std::ofstream(dir / "full/a.txt") << "a"; }
  const std::vector<std::vector<std::string>> cases = {
      {"--out", out, "--size", "100"},  {"--out", out, "--size", "16"}, {"--out", out, "--size", "2048"},
      {"--out", out, "--frames", "0"},  {"--out", out, "--clips", "0"}, {"--out", dir / "full"},
      {"--out", out, "--size", "big"},  {"--clips", "2"}};
  for (const auto& args : cases) {
    std::vector<std::string> argv = {"synth"};
    argv.insert(argv.end(), args.begin(), args.end());
    test::CliResult r = test::run_cli(argv);
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    EXPECT_NE(r.exit_code, 0) << shown;
    EXPECT_EQ(test::count_lines(r.err), 1) << shown << ": " << r.err;
    EXPECT_FALSE(fs::exists(out)) << shown;
    EXPECT_FALSE(fs::exists(out + ".partial")) << shown;
  }
  EXPECT_EQ(test::files_under(dir / "full"), (std::vector<std::string>{"a.txt"}));
}

}  // namespace
}  // namespace ma
