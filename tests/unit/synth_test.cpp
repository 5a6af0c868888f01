// The synthetic DensePose world (src/synth): the palette is DensePose's
// viridis coding, the dataset is deterministic per seed and laid out as the
// trainer reads it, DensePose frames and masks agree, figures move and turn.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "media/image.h"
#include "synth/dataset_writer.h"
#include "synth/densepose_palette.h"
#include "synth/world.h"
#include "temp_dir.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace ma::synth {
namespace {

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> sorted_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Every file under `dir` (relative path -> bytes).
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = bytes_of(e.path());
  return out;
}

// The reference colours of DensePose parts 0..24 as OpenCV paints them
// (cv2.applyColorMap(floor(I * 255/24), COLORMAP_VIRIDIS), RGB), listed in
// ../shared/spec/densepose.md and seen in the original's demo videos.
const Rgb8 kSpecColours[25] = {
    {68, 1, 84},    {71, 16, 99},   {72, 31, 112},  {71, 44, 122},  {68, 57, 131},  {64, 70, 136},  {59, 81, 139},
    {54, 93, 141},  {49, 104, 142}, {44, 113, 142}, {40, 124, 142}, {37, 133, 142}, {33, 144, 141}, {31, 154, 138},
    {32, 163, 134}, {39, 173, 129}, {53, 183, 121}, {70, 192, 111}, {92, 200, 99},  {115, 208, 86}, {142, 214, 69},
    {170, 220, 50}, {197, 224, 33}, {226, 228, 24}, {253, 231, 37}};

TEST(SynthPalette, TheTwentyFiveColoursAreOpenCvViridisAtFloorIndex) {
  for (int i = 0; i < kPartCount; ++i) {
    const Rgb8 c = part_colour(i);
    EXPECT_EQ(c, kSpecColours[i]) << "part " << i << " got " << int(c.r) << "," << int(c.g) << "," << int(c.b);
    EXPECT_EQ(part_of_colour(c), i);
  }
  EXPECT_EQ(viridis_table()[0], (Rgb8{68, 1, 84}));
  EXPECT_EQ(viridis_table()[255], (Rgb8{253, 231, 37}));
  EXPECT_EQ(part_of_colour({0, 0, 0}), -1);
}

TEST(SynthWorld, SameSeedSameFramesOtherSeedOtherFrames) {
  const ClipRenderer a(sample_clip(7, 0), 64), b(sample_clip(7, 0), 64), c(sample_clip(8, 0), 64);
  const Frame fa = a.render(3, 8), fb = b.render(3, 8), fc = c.render(3, 8);
  EXPECT_EQ(fa.image, fb.image);
  EXPECT_EQ(fa.labels, fb.labels);
  EXPECT_NE(fa.image, fc.image);
  // Clip i does not depend on how many clips are drawn: clip 1 of seed 7 differs from clip 0.
  EXPECT_NE(ClipRenderer(sample_clip(7, 1), 64).render(3, 8).image, fa.image);
}

TEST(SynthWorld, EveryMotionMovesTheFigure) {
  std::set<std::string> kinds;
  for (int clip = 0; clip < 12; ++clip) {
    const ClipSpec spec = sample_clip(3, clip);
    kinds.insert(motion_name(spec.motion.kind));
    const ClipRenderer r(spec, 64);
    const Frame first = r.render(0, 12), last = r.render(11, 12);
    size_t person = 0, changed = 0;
    for (size_t i = 0; i < first.labels.size(); ++i) {
      person += first.labels[i] != kBackground;
      changed += first.labels[i] != last.labels[i];
    }
    EXPECT_GT(person, 64u * 64u / 50) << "clip " << clip << ": the figure covers under 2% of the frame";
    // Over 12 frames (0.44 s) every motion moves a limb by more than its width:
    // at least 2% of the figure's pixels change part.
    EXPECT_GT(changed, person / 50) << "clip " << clip << " (" << motion_name(spec.motion.kind) << ") barely moves";
  }
  EXPECT_GE(kinds.size(), 4u) << "12 clips should show most of the 5 motions";
}

TEST(SynthWorld, ATurningFigureShowsFrontAndBackParts) {
  int clip = 0;
  while (sample_clip(11, clip).motion.kind != Motion::turn) ASSERT_LT(++clip, 100);
  const ClipRenderer r(sample_clip(11, clip), 96);
  std::set<int> seen;
  const int frames = 24;
  for (int f = 0; f < frames; ++f)
    for (uint8_t l : r.render(f, frames).labels) seen.insert(l);
  for (int part : {kTorsoFront, kTorsoBack, kHeadRight, kHeadLeft, kUpperLegLeftFront, kUpperLegLeftBack,
                   kUpperLegRightFront, kUpperLegRightBack})
    EXPECT_TRUE(seen.count(part)) << "part " << part << " never seen in turning clip " << clip;
}

TEST(SynthWorld, AFrontalFigureShowsEveryBodyPart) {
  // Walking in place facing the camera, the whole body in frame: both head
  // halves, the torso's front, both hands and feet and the front chart of
  // every limb appear.
  for (int clip = 0; clip < 3; ++clip) {
    ClipSpec spec = sample_clip(5, clip);
    spec.motion.kind = Motion::walk;
    spec.motion.yaw0 = spec.motion.yaw1 = 0;
    spec.motion.x0 = spec.motion.x1 = 0.5;
    spec.motion.height0 = spec.motion.height1 = 0.75;
    spec.motion.ground0 = spec.motion.ground1 = 0.9;
    const Frame f = ClipRenderer(spec, 128).render(0, 1);
    std::set<int> seen(f.labels.begin(), f.labels.end());
    for (int part : {kTorsoFront, kHandRight, kHandLeft, kFootLeft, kFootRight, kUpperLegRightFront,
                     kUpperLegLeftFront, kLowerLegRightFront, kLowerLegLeftFront, kUpperArmLeftFront,
                     kUpperArmRightFront, kLowerArmLeftFront, kLowerArmRightFront, kHeadRight, kHeadLeft})
      EXPECT_TRUE(seen.count(part)) << "part " << part << " missing in frontal clip " << clip;
    EXPECT_FALSE(seen.count(kTorsoBack)) << "a figure facing the camera shows its back in clip " << clip;
    // The figure's right hand and head half are on the image's left when it faces the camera.
    auto mean_x = [&](int part) {
      double sum = 0, n = 0;
      for (int i = 0; i < 128 * 128; ++i)
        if (f.labels[i] == part) sum += i % 128, ++n;
      return sum / std::max(1.0, n);
    };
    EXPECT_LT(mean_x(kHandRight), mean_x(kHandLeft)) << "clip " << clip;
    EXPECT_LT(mean_x(kHeadRight), mean_x(kHeadLeft)) << "clip " << clip;
  }
}

class SynthDataset : public ::testing::Test {
 protected:
  test::TempDir dir;
  SynthOptions options(const std::string& name, uint64_t seed) {
    SynthOptions o;
    o.out = dir / name;
    o.clips = 3;
    o.frames = 4;
    o.size = 48;
    o.seed = seed;
    return o;
  }
};

TEST_F(SynthDataset, WritesTheTikTokLayoutDeterministically) {
  std::vector<int> reported;
  write_dataset(options("a", 1), [&](const ClipDone& c) { reported.push_back(c.index); });
  write_dataset(options("b", 1));
  write_dataset(options("c", 2));
  EXPECT_EQ(reported, (std::vector<int>{1, 2, 3}));
  const fs::path a(dir / "a");
  EXPECT_EQ(sorted_names(a), (std::vector<std::string>{"clip_0000", "clip_0001", "clip_0002", "synth.json"}));
  for (const char* clip : {"clip_0000", "clip_0001", "clip_0002"})
    for (const char* sub : {"images", "densepose", "masks"})
      EXPECT_EQ(sorted_names(a / clip / sub), (std::vector<std::string>{"0000.png", "0001.png", "0002.png", "0003.png"}))
          << clip << "/" << sub;
  EXPECT_EQ(tree(a), tree(dir / "b")) << "same seed, different bytes";
  const auto ta = tree(a), tc = tree(dir / "c");
  EXPECT_NE(ta.at("clip_0000/images/0000.png"), tc.at("clip_0000/images/0000.png"));
  EXPECT_NE(ta.at("clip_0000/densepose/0000.png"), tc.at("clip_0000/densepose/0000.png"));
  EXPECT_FALSE(fs::exists(dir / "a.partial"));
}

TEST_F(SynthDataset, DensePoseHoldsOnlyTheTwentyFiveColoursAndTheMaskIsThePerson) {
  SynthOptions o = options("d", 4);
  o.size = 64;
  write_dataset(o);
  const fs::path root(o.out);
  for (int c = 0; c < o.clips; ++c)
    for (int f = 0; f < o.frames; ++f) {
      const std::string clip = "clip_000" + std::to_string(c), name = "000" + std::to_string(f) + ".png";
      const at::Tensor pose = read_image_rgb((root / clip / "densepose" / name).string());
      const at::Tensor mask = read_image_rgb((root / clip / "masks" / name).string());
      const at::Tensor image = read_image_rgb((root / clip / "images" / name).string());
      ASSERT_EQ(pose.sizes(), image.sizes());
      ASSERT_EQ(mask.sizes(), image.sizes());
      EXPECT_EQ(image.size(0), 64);
      const uint8_t* p = pose.data_ptr<uint8_t>();
      const uint8_t* m = mask.data_ptr<uint8_t>();
      int64_t person = 0;
      for (int64_t i = 0; i < 64 * 64; ++i) {
        const int part = part_of_colour({p[3 * i], p[3 * i + 1], p[3 * i + 2]});
        ASSERT_GE(part, 0) << clip << "/" << name << " pixel " << i << " is not a palette colour";
        const uint8_t want = part != kBackground ? 255 : 0;
        ASSERT_TRUE(m[3 * i] == want && m[3 * i + 1] == want && m[3 * i + 2] == want)
            << clip << "/" << name << " pixel " << i << ": mask disagrees with DensePose";
        person += part != kBackground;
      }
      EXPECT_GT(person, 0) << clip << "/" << name << " has no person";
    }
}

TEST_F(SynthDataset, RefusesBadOptionsBeforeWritingAnything) {
  auto refused = [&](SynthOptions o, const std::string& flag) {
    try {
      write_dataset(o);
      ADD_FAILURE() << "accepted " << flag;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "more than one line: " << e.what();
    }
  };
  SynthOptions o = options("bad", 0);
  for (int size : {24, 36, 1032, 0}) {
    SynthOptions s = o;
    s.size = size;
    refused(s, "--size");
  }
  SynthOptions f = o;
  f.frames = 0;
  refused(f, "--frames");
  SynthOptions c = o;
  c.clips = -1;
  refused(c, "--clips");
  EXPECT_FALSE(fs::exists(o.out));
  fs::create_directories(o.out);
  std::ofstream(o.out + "/keep.txt") << "mine";
  refused(o, "not empty");
  EXPECT_EQ(sorted_names(o.out), (std::vector<std::string>{"keep.txt"}));
  EXPECT_FALSE(fs::exists(o.out + ".partial"));
}

TEST_F(SynthDataset, AnEmptyOutFolderIsFilled) {
  SynthOptions o = options("empty", 0);
  o.clips = 1, o.frames = 1, o.size = 32;
  fs::create_directories(o.out);
  write_dataset(o);
  EXPECT_TRUE(fs::exists(o.out + "/clip_0000/masks/0000.png"));
}

TEST_F(SynthDataset, AnInterruptedRunLeavesNothing) {
  SynthOptions o = options("stopped", 0);
  std::atomic<bool> stop{false};
  // Stop after the first clip: the partial folder holds files by then.
  EXPECT_THROW(write_dataset(
                   o, [&](const ClipDone&) { stop = true; }, &stop),
               Cancelled);
  EXPECT_FALSE(fs::exists(o.out));
  EXPECT_FALSE(fs::exists(o.out + ".partial"));
}

}  // namespace
}  // namespace ma::synth
