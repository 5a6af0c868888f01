// The restricted unpickler and torch.save zip reader: real fixture checkpoints,
// hand-built pickles with independently known values, and hostile archives.
#include <filesystem>
#include <fstream>
#include <set>

#include "util/config.h"
#include "weights/torch_pickle.h"
#include "test_util.h"
#include "torch_pickle_writer.h"
#include "util/error.h"

namespace ma {
namespace {

using test::PickleWriter;

// Storage records served from a map, as the zip reader would.
StorageRecordReader records_from(const std::map<std::string, std::string>& records) {
  return [records](const std::string& key, uint64_t min_bytes) {
    auto it = records.find(key);
    if (it == records.end()) throw Error("no record " + key);
    if (it->second.size() < min_bytes) throw Error("record " + key + " too small");
    at::Tensor t = at::empty({static_cast<int64_t>(it->second.size())}, at::kByte);
    std::memcpy(t.data_ptr(), it->second.data(), it->second.size());
    return t;
  };
}

TensorMap parse(const std::string& pickle, const std::map<std::string, std::string>& records = {}) {
  return parse_pickle_state_dict(pickle.data(), pickle.size(), records_from(records));
}

// {"w": 2x2 float view at offset 1 with strides (1, 2) of storage [0..5]}:
// element (i, j) = storage[1 + i + 2j], i.e. [[1, 3], [2, 4]].
std::string strided_pickle() {
  PickleWriter p;
  p.proto().empty_dict().mark().str("w").tensor("FloatStorage", "0", 6, 1, {2, 2}, {1, 2}).setitems().stop();
  return p.bytes();
}

using test::expect_error_containing;

TEST(TorchPickle, ReadsStridedViewOfStorage) {
  TensorMap m = parse(strided_pickle(), {{"0", test::float_bytes({0, 1, 2, 3, 4, 5})}});
  ASSERT_EQ(m.size(), 1u);
  const at::Tensor& w = m.at("w");
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  ASSERT_EQ(w.sizes(), at::IntArrayRef({2, 2}));
  EXPECT_EQ(w[0][0].item<float>(), 1.f);
  EXPECT_EQ(w[0][1].item<float>(), 3.f);
  EXPECT_EQ(w[1][0].item<float>(), 2.f);
  EXPECT_EQ(w[1][1].item<float>(), 4.f);
}

TEST(TorchPickle, KeepsStorageDtypesAndSharesStorages) {
  const uint16_t half_one = 0x3C00, half_minus_two = 0xC000;  // IEEE binary16 bit patterns
  std::string halves(4, '\0');
  std::memcpy(&halves[0], &half_one, 2);
  std::memcpy(&halves[2], &half_minus_two, 2);
  const int64_t longs[2] = {7, -9};
  PickleWriter p;
  p.proto().empty_dict().mark();
  p.str("h").tensor("HalfStorage", "0", 2, 0, {2}, {1});
  p.str("l").tensor("LongStorage", "1", 2, 0, {2}, {1});
  p.str("l_tail").tensor("LongStorage", "1", 2, 1, {1}, {1});  // same storage, second element
  p.str("b").tensor("BoolStorage", "2", 3, 0, {3}, {1});
  p.setitems().stop();
  TensorMap m = parse(p.bytes(), {{"0", halves},
                                  {"1", std::string(reinterpret_cast<const char*>(longs), 16)},
                                  {"2", std::string("\x00\x01\x05", 3)}});
  EXPECT_EQ(m.at("h").scalar_type(), at::kHalf);
  EXPECT_EQ(m.at("h")[0].item<float>(), 1.f);
  EXPECT_EQ(m.at("h")[1].item<float>(), -2.f);
  EXPECT_EQ(m.at("l").scalar_type(), at::kLong);
  EXPECT_EQ(m.at("l")[1].item<int64_t>(), -9);
  EXPECT_EQ(m.at("l_tail")[0].item<int64_t>(), -9);
  EXPECT_EQ(m.at("b").scalar_type(), at::kBool);
  EXPECT_FALSE(m.at("b")[0].item<bool>());
  EXPECT_TRUE(m.at("b")[2].item<bool>());  // a non-0/1 byte still reads as true
}

TEST(TorchPickle, NestedDictsGetDottedNamesAndScalarsAreIgnored) {
  PickleWriter p;
  p.proto().empty_dict().mark();
  p.str("state_dict").global("collections", "OrderedDict").empty_tuple().reduce();
  p.mark().str("a.weight").tensor("FloatStorage", "0", 1, 0, {1}, {1}).setitems();
  p.str("global_step").integer(1234567);
  p.str("lr").op('G');
  for (int i = 0; i < 8; ++i) p.op(0);
  p.str("epoch").op('N');
  p.setitems().stop();
  TensorMap m = parse(p.bytes(), {{"0", test::float_bytes({2.5f})}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.at("state_dict.a.weight").item<float>(), 2.5f);
}

TEST(TorchPickle, RebuildParameterUnwrapsItsTensor) {
  PickleWriter p;
  p.proto().empty_dict().str("p");
  p.global("torch._utils", "_rebuild_parameter").mark();
  p.tensor("FloatStorage", "0", 2, 0, {2}, {1}).op(0x88).global("collections", "OrderedDict").empty_tuple().reduce();
  p.tuple().reduce().setitem().stop();
  TensorMap m = parse(p.bytes(), {{"0", test::float_bytes({-1.f, 8.f})}});
  EXPECT_EQ(m.at("p")[1].item<float>(), 8.f);
}

TEST(TorchPickle, AcceptsUtf8NamesAndRejectsInvalidUtf8) {
  PickleWriter ok;
  ok.proto().empty_dict().str("gewicht_\xc3\xa4_\xe6\x9d\x83").tensor("FloatStorage", "0", 1, 0, {1}, {1});
  ok.setitem().stop();
  EXPECT_EQ(parse(ok.bytes(), {{"0", test::float_bytes({1.f})}}).count("gewicht_\xc3\xa4_\xe6\x9d\x83"), 1u);
  for (const std::string bad : {"\xff", "a\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    PickleWriter p;
    p.proto().empty_dict().str(bad).op('N').setitem().stop();
    expect_error_containing([&] { parse(p.bytes()); }, "not valid UTF-8");
  }
}

TEST(TorchPickle, SelfReferencingDictDoesNotLoop) {
  PickleWriter p;  // d = {}; d["me"] = d; d["also"] = d
  p.proto().empty_dict().op('q').op(0).str("me").op('h').op(0).setitem().str("also").op('h').op(0).setitem().stop();
  EXPECT_TRUE(parse(p.bytes()).empty());
}

TEST(TorchPickle, LoadsTemporalAttentionCheckpointWithManifestKeys) {
  const std::string ckpt = test::models_dir() + "/MagicAnimate/temporal_attention/temporal_attention.ckpt";
  TensorMap m = load_torch_pickle(ckpt);
  Json manifest = read_json_file(test::data_dir() + "/manifests/temporal_attention.json");
  std::set<std::string> expected, actual;
  for (auto it = manifest["keys"].begin(); it != manifest["keys"].end(); ++it) expected.insert(it.key());
  for (const auto& kv : m) actual.insert(kv.first);
  EXPECT_EQ(actual, expected);
  for (const auto& [name, t] : m) {
    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
    // The manifest is for the full-size model; the fixture is tiny but has the same rank.
    EXPECT_EQ(static_cast<size_t>(t.dim()), manifest["keys"][name]["shape"].size()) << name;
    EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << name;
  }
}

// ---- hostile input ---------------------------------------------------------

TEST(TorchPickleHostile, RejectsOsSystemGlobalNamingFileAndGlobal) {
  PickleWriter p;
  p.proto().global("os", "system").str("echo pwned").op(0x85).reduce().stop();
  const std::string path = test::temp_dir("os_system") + "/evil.pt";
  test::write_torch_zip(path, p.bytes(), {});
  expect_error_containing([&] { load_torch_pickle(path); }, path + ": pickle references forbidden global 'os.system'");
}

TEST(TorchPickleHostile, RejectsBuiltinsEvalViaStackGlobal) {
  PickleWriter p;
  p.proto().op(0x8c).op(8);
  for (char c : std::string("builtins")) p.op(static_cast<unsigned char>(c));
  p.op(0x8c).op(4);
  for (char c : std::string("eval")) p.op(static_cast<unsigned char>(c));
  p.op(0x93).str("1+1").op(0x85).reduce().stop();
  expect_error_containing([&] { parse(p.bytes()); }, "forbidden global 'builtins.eval'");
}

TEST(TorchPickleHostile, RejectsForbiddenGlobalEvenInsideADict) {
  PickleWriter p;
  p.proto().empty_dict().str("x").global("posix", "system").setitem().stop();
  expect_error_containing([&] { parse(p.bytes()); }, "forbidden global 'posix.system'");
}

TEST(TorchPickleHostile, EveryTruncationIsAnError) {
  const std::string full = strided_pickle();
  const std::map<std::string, std::string> records{{"0", test::float_bytes({0, 1, 2, 3, 4, 5})}};
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_THROW(parse(full.substr(0, n), records), Error) << "prefix of " << n << " bytes";
}

TEST(TorchPickleHostile, TruncatedPickleInArchiveNamesTheFile) {
  const std::string path = test::temp_dir("truncated") + "/cut.bin";
  test::write_torch_zip(path, strided_pickle().substr(0, 40), {{"0", test::float_bytes({0, 1, 2, 3, 4, 5})}});
  expect_error_containing([&] { load_torch_pickle(path); }, path + ": truncated pickle");
}

TEST(TorchPickleHostile, MissingDataRecord) {
  const std::string path = test::temp_dir("missing_record") + "/model.bin";
  test::write_torch_zip(path, strided_pickle(), {});
  expect_error_containing([&] { load_torch_pickle(path); }, "zip record 'archive/data/0' is missing");
}

TEST(TorchPickleHostile, RecordSmallerThanStorage) {
  const std::string path = test::temp_dir("small_record") + "/model.bin";
  test::write_torch_zip(path, strided_pickle(), {{"0", test::float_bytes({0, 1, 2})}});  // 12 of 24 bytes
  expect_error_containing([&] { load_torch_pickle(path); }, "holds 12 bytes but its tensor needs 24");
}

TEST(TorchPickleHostile, TrillionElementStorageIsRejectedBeforeAllocating) {
  PickleWriter p;
  p.proto().empty_dict().str("w").tensor("FloatStorage", "0", 1000000000000, 0, {1000000, 1000000},
                                         {1000000, 1}).setitem().stop();
  const std::string path = test::temp_dir("huge") + "/huge.ckpt";
  test::write_torch_zip(path, p.bytes(), {{"0", test::float_bytes({1, 2, 3, 4})}});
  expect_error_containing([&] { load_torch_pickle(path); }, "holds 16 bytes but its tensor needs 4000000000000");
}

TEST(TorchPickleHostile, TrillionElementViewOfSmallStorage) {
  PickleWriter p;
  p.proto().empty_dict().str("w").tensor("FloatStorage", "0", 4, 0, {1000000, 1000000}, {1000000, 1}).setitem().stop();
  expect_error_containing([&] { parse(p.bytes(), {{"0", test::float_bytes({1, 2, 3, 4})}}); },
                          "reaches past the end of its storage");
}

TEST(TorchPickleHostile, OffsetOrStridePastStorage) {
  const std::map<std::string, std::string> records{{"0", test::float_bytes({1, 2, 3, 4})}};
  PickleWriter offset;
  offset.proto().empty_dict().str("w").tensor("FloatStorage", "0", 4, 3, {2}, {1}).setitem().stop();
  expect_error_containing([&] { parse(offset.bytes(), records); }, "reaches past the end of its storage");
  PickleWriter stride;
  stride.proto().empty_dict().str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {3, 1}).setitem().stop();
  expect_error_containing([&] { parse(stride.bytes(), records); }, "reaches past the end of its storage");
  PickleWriter empty_far;
  empty_far.proto().empty_dict().str("w").tensor("FloatStorage", "0", 4, 9, {0}, {1}).setitem().stop();
  expect_error_containing([&] { parse(empty_far.bytes(), records); }, "offset lies past the end");
}

TEST(TorchPickleHostile, ZeroStridesCannotExpandASmallStorage) {
  // 2^40 elements viewed on 4 stored floats: copying it would need 4 TiB.
  PickleWriter p;
  p.proto().empty_dict().str("w").tensor("FloatStorage", "0", 4, 0, {1 << 20, 1 << 20}, {0, 0}).setitem().stop();
  expect_error_containing([&] { parse(p.bytes(), {{"0", test::float_bytes({1, 2, 3, 4})}}); },
                          "tensor views overlap implausibly");
}

TEST(TorchPickleHostile, OneStorageUnderCountlessNamesIsRejected) {
  const int64_t floats = 1 << 16;  // 256 KiB stored
  PickleWriter p;
  p.proto().empty_dict().str("t0").tensor("FloatStorage", "0", floats, 0, {floats}, {1}).op('q').op(1).setitem();
  for (int i = 1; i < 40; ++i) p.str("t" + std::to_string(i)).op('h').op(1).setitem();  // 10 MiB of aliases
  p.stop();
  const std::map<std::string, std::string> records{{"0", std::string(floats * 4, '\0')}};
  expect_error_containing([&] { parse(p.bytes(), records); }, "names the same stored data implausibly often");
  // Tied weights (the same tensor under two names) are normal and accepted.
  PickleWriter tied;
  tied.proto().empty_dict().str("a").tensor("FloatStorage", "0", floats, 0, {floats}, {1}).op('q').op(1).setitem();
  tied.str("b").op('h').op(1).setitem().stop();
  TensorMap m = parse(tied.bytes(), records);
  EXPECT_EQ(m.at("a").data_ptr(), m.at("b").data_ptr());
}

TEST(TorchPickleHostile, UnknownOpcodeAndBadStructure) {
  expect_error_containing([] { parse(std::string("\x80\x02\xff", 3)); }, "unsupported pickle opcode 0xff at offset 2");
  expect_error_containing([] { parse(std::string("\x80\x02K\x05.", 5)); }, "does not hold a dict");
  expect_error_containing([] { parse(std::string("\x80\x02h\x07.", 5)); }, "memo has no entry 7");
  expect_error_containing([] { parse(std::string("\x80\x02.", 3)); }, "stack underflow");
  // STOP missing entirely
  expect_error_containing([] { parse(std::string("\x80\x02}", 3)); }, "truncated pickle");
  // Keys are hashed on every SETITEM: absurdly long ones are refused.
  PickleWriter long_key;
  long_key.proto().empty_dict().str(std::string(5000, 'k')).op('N').setitem().stop();
  expect_error_containing([&] { parse(long_key.bytes()); }, "pickle dict key of 5000 bytes");
  // A string length far past the end must fail before allocating it.
  expect_error_containing([] { parse(std::string("\x80\x02X\xff\xff\xff\x7f", 7)); }, "truncated pickle");
}

TEST(TorchPickleHostile, LegacyAndNonZipFiles) {
  const std::string dir = test::temp_dir("legacy");
  std::ofstream(dir + "/old.pt", std::ios::binary) << std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  // A legacy header alone: read as the legacy format, which then misses its protocol pickle.
  expect_error_containing([&] { load_torch_pickle(dir + "/old.pt"); }, "without the expected protocol version");
  std::ofstream(dir + "/text.bin", std::ios::binary) << "hello";
  expect_error_containing([&] { load_torch_pickle(dir + "/text.bin"); }, "not a torch.save zip archive");
  test::write_zip(dir + "/nodata.bin", {{"readme.txt", "x"}});
  expect_error_containing([&] { load_torch_pickle(dir + "/nodata.bin"); }, "has no <name>/data.pkl record");
  expect_error_containing([&] { load_torch_pickle(dir + "/absent.bin"); }, "cannot open file");
}

TEST(TorchPickleHostile, FromMemoryMatchesFileReader) {
  const std::string path = test::temp_dir("memory") + "/m.bin";
  test::write_torch_zip(path, strided_pickle(), {{"0", test::float_bytes({0, 1, 2, 3, 4, 5})}});
  std::ifstream f(path, std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  TensorMap from_memory = load_torch_pickle_from_memory(image.data(), image.size());
  EXPECT_TRUE(at::equal(from_memory.at("w"), load_torch_pickle(path).at("w")));
  // Every truncation of the archive image is an error, never a crash.
  for (size_t n = 0; n < image.size(); n += 7)
    EXPECT_THROW(load_torch_pickle_from_memory(image.data(), n), Error) << n << " bytes";
}

}  // namespace
}  // namespace ma

namespace ma {
namespace {

// The legacy (pre-1.6) container on a real file: LPIPS's v0.1 heads, saved in
// 2018 from Python 2 (per-layer sums are checked in eval_metrics_test). Every
// truncation and every flipped byte must give an ma::Error or a result,
// never a crash (this test also runs in loaders_asan_test).
TEST(TorchPickleLegacy, RealFileAndDamagedCopies) {
  std::ifstream in(test::data_dir() + "/eval/lpips_v0.1/vgg.pth", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 7289u);
  const TensorMap heads = load_torch_pickle_from_memory(bytes.data(), bytes.size(), "vgg.pth");
  ASSERT_EQ(heads.size(), 5u);
  EXPECT_EQ(heads.at("lin4.model.1.weight").sizes(), at::IntArrayRef({1, 512, 1, 1}));
  int errors = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += 37) {
    try {
      load_torch_pickle_from_memory(bytes.data(), cut, "cut");
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_EQ(errors, static_cast<int>((bytes.size() + 36) / 37));  // every truncation is refused
  for (size_t at = 0; at < bytes.size(); at += 11) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    try {
      load_torch_pickle_from_memory(damaged.data(), damaged.size(), "flipped");
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace ma
