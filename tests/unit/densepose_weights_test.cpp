// detectron2 .pkl weights: real pickles written by Python's pickle + numpy
// (tests/data/gen/densepose_pkl.py) under protocols 2, 4 and 5, hostile files
// refused by name, and the DensePose R-CNN trees of the four zoo configs
// against key/shape manifests derived from detectron2's code.
#include <fstream>
#include <sstream>

#include "util/config.h"
#include "weights/numpy_pickle.h"
#include "models/densepose/densepose_rcnn.h"
#include "test_util.h"
#include "util/error.h"

namespace ma {
namespace {

std::string pkl_dir() { return test::data_dir() + "/densepose/pkl"; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using test::expect_error_containing;

class NumpyPickle : public ::testing::TestWithParam<int> {};

TEST_P(NumpyPickle, ReadsZooLayoutWithEveryDtypeAndOrder) {
  TensorMap m = load_numpy_pickle(pkl_dir() + "/zoo_p" + std::to_string(GetParam()) + ".pkl");
  // Only the "model" dict, without its prefix; __author__ and the numpy scalar are not tensors.
  ASSERT_EQ(m.size(), 8u);
  const at::Tensor w = m.at("conv.weight");
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  ASSERT_EQ(w.sizes(), at::IntArrayRef({2, 3, 2, 2}));
  EXPECT_TRUE(w.equal(at::arange(24, at::kFloat).reshape({2, 3, 2, 2}) - 5.5));
  EXPECT_EQ(m.at("conv.bias")[1].item<float>(), -2.25f);
  // Stored in Fortran order; must read back as the same logical matrix.
  EXPECT_TRUE(m.at("fortran").equal(at::arange(6, at::kFloat).reshape({2, 3})));
  EXPECT_EQ(m.at("ids").scalar_type(), at::kLong);
  EXPECT_EQ(m.at("ids")[2].item<int64_t>(), int64_t{1} << 40);
  EXPECT_EQ(m.at("ids")[1].item<int64_t>(), -7);
  EXPECT_EQ(m.at("half").scalar_type(), at::kHalf);
  EXPECT_EQ(m.at("half")[1].item<float>(), -2.f);
  EXPECT_EQ(m.at("double").scalar_type(), at::kDouble);
  EXPECT_EQ(m.at("double")[0].item<double>(), 0.125);
  EXPECT_EQ(m.at("scalar_shape").dim(), 0);
  EXPECT_EQ(m.at("scalar_shape").item<float>(), 4.f);
  EXPECT_EQ(m.at("empty").sizes(), at::IntArrayRef({0, 3}));
}

INSTANTIATE_TEST_SUITE_P(Protocols, NumpyPickle, ::testing::Values(2, 4, 5));

TEST(NumpyPickle, ReadsPython2StringsAsLatin1) {
  // What Python 2's cPickle (protocol 2) writes for {"model": {"w": np.array([1.5, -2], "f4")}}:
  // names and the raw data as BINSTRING / SHORT_BINSTRING, read as latin-1 (detectron2 passes
  // encoding="latin1"); the data's bytes 0xC0 / 0x3F must come through unchanged.
  std::string p;
  auto bytes = [&](std::initializer_list<int> v) {
    for (int c : v) p += static_cast<char>(c);
  };
  auto text = [&](const std::string& v) { p += v; };  // opcodes and GLOBAL lines, no NUL inside
  auto short_str = [&](const std::string& v) { bytes({'U', static_cast<int>(v.size())}), p += v; };
  bytes({0x80, 2, '}', '('});
  short_str("model");
  text("}(");
  short_str("w");
  text("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n");
  bytes({'K', 0, 0x85});
  short_str("b");
  bytes({0x87, 'R', '(', 'K', 1, 'K', 2, 0x85});
  text("cnumpy\ndtype\n");
  short_str("f4");
  bytes({'K', 0, 'K', 1, 0x87, 'R', '(', 'K', 3});
  short_str("<");
  bytes({'N', 'N', 'N', 'J', 0xff, 0xff, 0xff, 0xff, 'J', 0xff, 0xff, 0xff, 0xff, 'K', 0, 't', 'b', 0x89});
  bytes({'T', 8, 0, 0, 0, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0});
  text("tbuu.");
  const TensorMap m = parse_numpy_pickle(p.data(), p.size());
  ASSERT_EQ(m.count("w"), 1u);
  EXPECT_TRUE(m.at("w").equal(at::tensor({1.5f, -2.f})));
}

TEST(NumpyPickleHostile, OtherGlobalsAreRefusedByName) {
  expect_error_containing([] { load_numpy_pickle(pkl_dir() + "/hostile_os_system.pkl"); },
                          "forbidden global 'posix.system'");
  expect_error_containing([] { load_numpy_pickle(pkl_dir() + "/hostile_numpy_load.pkl"); },
                          "forbidden global 'numpy.load'");
}

TEST(NumpyPickleHostile, LyingShapesAndDtypesAreRefused) {
  expect_error_containing([] { load_numpy_pickle(pkl_dir() + "/hostile_lying_shape.pkl"); },
                          "shape [1000, 1000] and dtype f4 needs 4000000 bytes but holds 16");
  expect_error_containing([] { load_numpy_pickle(pkl_dir() + "/hostile_huge_shape.pkl"); }, "absurd shape");
  expect_error_containing([] { load_numpy_pickle(pkl_dir() + "/hostile_big_endian.pkl"); }, "byte order '>'");
  expect_error_containing([] { load_numpy_pickle(pkl_dir() + "/hostile_object_array.pkl"); }, "dtype 'O8'");
}

TEST(NumpyPickleHostile, EveryTruncationIsAnErrorNamingTheFile) {
  for (int proto : {2, 5}) {
    const std::string bytes = read_file(pkl_dir() + "/zoo_p" + std::to_string(proto) + ".pkl");
    for (size_t n = 0; n < bytes.size(); ++n)
      expect_error_containing([&] { parse_numpy_pickle(bytes.data(), n, "cut.pkl"); }, "cut.pkl: ");
  }
}

TEST(NumpyPickleHostile, ATorchSaveStreamIsNotAPlainPickle) {
  // A legacy torch.save pickle names torch storages through persistent ids.
  static const char kPid[] = "\x80\x02}q\x00X\x01\x00\x00\x00wq\x01(X\x07\x00\x00\x00storageq\x02tQs.";
  const std::string pid(kPid, sizeof kPid - 1);
  expect_error_containing([&] { parse_numpy_pickle(pid.data(), pid.size(), "x.pkl"); }, "x.pkl: ");
}

std::map<std::string, std::vector<int64_t>> manifest(const std::string& config) {
  const Json j = read_json_file(test::data_dir() + "/manifests/densepose_" + config + ".json");
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [k, v] : j.at("keys").items()) shapes[k] = v.at("shape").get<std::vector<int64_t>>();
  return shapes;
}

class ZooTree : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooTree, FullSizeTreeMatchesDetectron2Manifest) {
  const std::string name = GetParam();
  const auto shapes = manifest(name);
  densepose::DensePoseRCNN model(densepose::zoo_config(name));
  const nn::LoadReport r = nn::compare_shapes(model, shapes);
  EXPECT_TRUE(r.ok()) << r.describe(name);
  // The config is recognised from the keys alone, widths included.
  const densepose::DensePoseConfig c = densepose::config_from_shapes(shapes);
  EXPECT_EQ(c.name, name);
  EXPECT_EQ(c.fpn_out, 256);
  EXPECT_EQ(c.box_pooler, 7);
  EXPECT_EQ(c.head_dim, 512);
  EXPECT_EQ(c.head_convs, 8);
  EXPECT_EQ(c.num_patches, 24);
}

INSTANTIATE_TEST_SUITE_P(Configs, ZooTree,
                         ::testing::Values("R_50_FPN_s1x", "R_50_FPN_DL_s1x", "R_101_FPN_s1x", "R_101_FPN_DL_s1x"));

TEST(ZooTree, ParameterCountsAreThoseOfTheZooFiles) {
  // 63.93 M / 66.16 M / 82.97 M / 85.21 M (detectron2's state_dict, spec/densepose.md).
  EXPECT_EQ(densepose::DensePoseRCNN(densepose::zoo_config("R_50_FPN_s1x")).num_parameters(), 63927330);
  EXPECT_EQ(densepose::DensePoseRCNN(densepose::zoo_config("R_101_FPN_DL_s1x")).num_parameters(), 85206562);
}

TEST(ZooTree, OtherWeightsAreRefusedNamingWhatIsMissing) {
  auto shapes = manifest("R_50_FPN_s1x");
  shapes.erase("roi_heads.box_head.fc1.weight");
  expect_error_containing([&] { densepose::config_from_shapes(shapes); }, "roi_heads.box_head.fc1.weight");
  expect_error_containing([] { densepose::config_from_shapes({{"unet.conv_in.weight", {1, 2, 3, 3}}}); },
                          "not DensePose R-CNN weights");
  expect_error_containing([] { densepose::zoo_config("R_50_FPN_legacy"); }, "unknown DensePose config");
  // A file that loads but lacks weights names them.
  expect_error_containing([] { densepose::load_densepose(pkl_dir() + "/zoo_p4.pkl"); }, "not DensePose R-CNN weights");
}

}  // namespace
}  // namespace ma
