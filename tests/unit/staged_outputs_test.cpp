// Outputs appear complete or not at all: staged under temporary names, moved
// into place by commit(), removed (with the folders made for them) otherwise.
#include "util/staged_outputs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "util/error.h"

namespace ma::test {
namespace {

namespace fs = std::filesystem;

TEST(StagedOutputs, CommitMovesEverythingIntoPlace) {
  TempDir tmp;
  fs::create_directories(tmp / "frames");
  std::ofstream(tmp / "frames/old.txt") << "kept";
  {
    StagedOutputs staged;
    std::string video = staged.file(tmp / "deep/er/x.mp4");
    EXPECT_EQ(fs::path(video).extension(), ".mp4") << "encoders may look at the extension";
    EXPECT_NE(video, tmp / "deep/er/x.mp4");
    std::ofstream(video) << "video";
    std::string frames = staged.folder(tmp / "frames");
    std::ofstream(fs::path(frames) / "0000.png") << "png";
    EXPECT_FALSE(fs::exists(tmp / "deep/er/x.mp4"));
    auto done = staged.commit();
    EXPECT_EQ(done, (std::vector<std::string>{tmp / "deep/er/x.mp4", tmp / "frames"}));
  }
  EXPECT_EQ(read_text_file(tmp / "deep/er/x.mp4"), "video");
  EXPECT_EQ(read_text_file(tmp / "frames/0000.png"), "png");
  EXPECT_EQ(read_text_file(tmp / "frames/old.txt"), "kept");
  auto files = files_under(tmp.path());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"deep/er/x.mp4", "frames/0000.png", "frames/old.txt"}));
}

TEST(StagedOutputs, WithoutCommitNothingIsLeft) {
  TempDir tmp;
  {
    StagedOutputs staged;
    std::ofstream(staged.file(tmp / "a/b/x.mp4")) << "half";
    std::ofstream(staged.file(tmp / "y.mp4") + ".partial") << "a writer's own temp";
    std::ofstream(fs::path(staged.folder(tmp / "a/frames")) / "0000.png") << "png";
  }  // e.g. an exception unwinds here
  EXPECT_TRUE(files_under(tmp.path()).empty());
  EXPECT_FALSE(fs::exists(tmp / "a")) << "folders created for the outputs are removed too";
}

TEST(CheckOutputPath, NamesTheProblem) {
  TempDir tmp;
  std::ofstream(tmp / "file") << "x";
  fs::create_directories(tmp / "dir");
  EXPECT_NO_THROW(check_output_path(tmp / "new/deeper/x.mp4", "output video"));
  EXPECT_NO_THROW(check_output_path(tmp / "dir", "frames folder", true));
  EXPECT_THROW(check_output_path(tmp / "dir", "output video"), Error);
  EXPECT_THROW(check_output_path(tmp / "file", "frames folder", true), Error);
  try {
    check_output_path(tmp / "file/x.mp4", "output video");
    ADD_FAILURE() << "accepted a path under a file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a folder"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_output_path("/proc/magicanimate-test/x.mp4", "output video"), Error);
  EXPECT_FALSE(fs::exists(tmp / "new")) << "checking creates nothing";
}

}  // namespace
}  // namespace ma::test
