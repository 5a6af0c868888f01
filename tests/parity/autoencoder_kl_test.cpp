// KL-VAE parity with the original pipeline (golden tensors recorded by
// MagicAnimate + diffusers 0.21.4 on the tiny sd-vae-ft-mse fixture), plus
// key layout against the real full-size checkpoint manifest and loader errors.
#include "models/autoencoder_kl.h"
#include "util/cpu_features.h"

#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <malloc.h>

#include <cstdio>
#include <filesystem>

#include "bench/memory.h"
#include "bench/models.h"
#include "util/config.h"
#include "weights/safetensors.h"
#include "test_util.h"
#include "util/error.h"

namespace ma {
namespace {

// fp32 parity tolerance, relative to the expected tensor's largest magnitude:
// we run the same float32 math as PyTorch, but convolution / matmul kernels
// sum in a different order, which leaves ~1e-6 relative noise per layer;
// 1e-4 is far below any real mistake (a wrong weight, eps or padding moves
// the result by percent).
constexpr double kParityTol = 1e-4;

std::string vae_dir() { return test::models_dir() + "/sd-vae-ft-mse"; }
std::string sd_vae_dir() { return test::models_dir() + "/stable-diffusion-v1-5/vae"; }

std::unique_ptr<AutoencoderKL> load_vae(const std::string& dir) {
  auto vae = std::make_unique<AutoencoderKL>(dir + "/config.json");
  vae->load(dir + "/diffusion_pytorch_model.safetensors");
  return vae;
}

const AutoencoderKL& fixture_vae() {
  static std::unique_ptr<AutoencoderKL> vae = load_vae(vae_dir());
  return *vae;
}

// The original pipeline decodes the latents after its last DDIM step and
// keeps the first 20 (unpadded) frames; decoding is per frame, so decoding
// only those 20 is the same.
at::Tensor final_latents_20() { return test::golden("step2.latents_out").slice(2, 0, 20); }

TEST(AutoencoderKL, ConfigFromFixture) {
  const auto& vae = fixture_vae();
  EXPECT_EQ(vae.config().block_out_channels, (std::vector<int64_t>{32, 32, 64, 64}));
  EXPECT_EQ(vae.config().norm_num_groups, 16);
  EXPECT_DOUBLE_EQ(vae.scaling_factor(), 0.18215);  // absent from the fixture: diffusers' default
}

TEST(AutoencoderKL, ReferenceLatentsMatchOriginal) {
  at::Tensor ref = fixture_vae().encode_reference(test::golden("input.source_image_u8"));
  test::expect_close(ref, test::golden("pipeline.ref_latents"), kParityTol, "ref latents");
}

TEST(AutoencoderKL, DecodedVideoMatchesOriginal) {
  at::Tensor video = fixture_vae().decode_video(final_latents_20(), 8);
  test::expect_close(video, test::golden("pipeline.video"), kParityTol, "decoded video");
}

TEST(AutoencoderKL, DecodeIndependentOfFramesPerBatch) {
  // 9 frames: batches of 8 leave a partial last batch.
  at::Tensor latents = final_latents_20().slice(2, 0, 9);
  at::Tensor one = fixture_vae().decode_video(latents, 1);
  at::Tensor eight = fixture_vae().decode_video(latents, 8);
  ASSERT_EQ(one.sizes(), eight.sizes());
  // Mathematically identical per frame, but oneDNN picks its convolution
  // blocking by batch size, so float32 sums are reassociated (~2e-6 of scale
  // seen). 1e-5 allows that noise and nothing else: a frame mixed up with
  // another, or a GroupNorm spanning frames, moves pixels by percent.
  EXPECT_LE(test::relative_max_error(eight, one), 1e-5);
}

TEST(AutoencoderKL, FullSizeTreeMatchesManifest) {
  // SD 1.5 / sd-vae-ft-mse sizes; only shapes are declared, nothing allocated.
  Json cfg = {{"in_channels", 3},
              {"out_channels", 3},
              {"latent_channels", 4},
              {"block_out_channels", {128, 256, 512, 512}},
              {"layers_per_block", 2},
              {"norm_num_groups", 32},
              {"down_block_types", std::vector<std::string>(4, "DownEncoderBlock2D")},
              {"up_block_types", std::vector<std::string>(4, "UpDecoderBlock2D")}};
  AutoencoderKL vae(AutoencoderKLConfig::from_json(cfg));

  Json manifest = read_json_file(test::data_dir() + "/manifests/vae.json");
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [key, entry] : manifest.at("keys").items()) shapes[key] = entry.at("shape").get<std::vector<int64_t>>();
  ASSERT_FALSE(shapes.empty());

  nn::LoadReport report = nn::compare_shapes(vae, shapes);
  EXPECT_TRUE(report.ok()) << report.describe("manifests/vae.json");
  EXPECT_EQ(vae.num_parameters(), manifest.at("num_params").get<int64_t>());
}

// The decode batch follows the memory budget: 1.5 GiB reserved per 512x512
// frame in fp32 (2 frames in the pipeline's 3 GiB), a quarter of that at
// 256x256, half in bf16; never fewer than 1 frame nor more than 16.
TEST(AutoencoderKL, DecodeBatchFollowsTheMemoryBudget) {
  AutoencoderKL vae(AutoencoderKLConfig::from_json(bench::sd15_vae_config()));
  const int64_t gib = int64_t{1} << 30;
  EXPECT_EQ(vae.decode_frames_within(3 * gib, 64, 64), 2);
  EXPECT_EQ(vae.decode_frames_within(3 * gib, 32, 32), 8);
  EXPECT_EQ(vae.decode_frames_within(gib, 64, 64), 1);
  EXPECT_EQ(vae.decode_frames_within(1000 * gib, 64, 64), AutoencoderKL::kMaxDecodeFrames);
  vae.load(bench::random_state(vae, {at::kBFloat16, at::kCPU}, 1), {at::kBFloat16, at::kCPU});
  EXPECT_EQ(vae.decode_frames_within(3 * gib, 64, 64), 4);
}

// The pipeline's batch: the budget's, except one frame per call where oneDNN
// has no AVX-512 kernels (here forced with ONEDNN_MAX_CPU_ISA=AVX2).
TEST(AutoencoderKL, DecodeBatchIsOneFrameWithoutAvx512) {
  AutoencoderKL vae(AutoencoderKLConfig::from_json(bench::sd15_vae_config()));
  const int64_t gib = int64_t{1} << 30;
  const char* old = std::getenv("ONEDNN_MAX_CPU_ISA");
  const std::string kept = old ? old : "";
  setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
  EXPECT_EQ(vae.decode_batch(3 * gib, 32, 32), 1);
  if (old) setenv("ONEDNN_MAX_CPU_ISA", kept.c_str(), 1); else unsetenv("ONEDNN_MAX_CPU_ISA");
  EXPECT_EQ(vae.decode_batch(3 * gib, 32, 32), cpu_has_avx512_core() ? 8 : 1);
}

// The estimate behind that budget is an upper bound of what decoding really
// holds: a full-size decoder on one 128x128 frame (estimate 96 MiB) raises
// the process's peak RSS by less than the estimate but by more than a
// quarter of it (an estimate more than 4x too large fails). Measured: 63 MB
// on libtorch 1.13, 31.7 MB on 2.6 (it frees a block's intermediates sooner:
// about two live 256x128x128 activations at the peak), so the floor is 24 MB.
TEST(AutoencoderKL, DecodeMemoryEstimateBoundsTheMeasuredPeak) {
  // Fixed malloc thresholds: every block of 1 MiB or more is mapped and
  // unmapped on free, so RSS follows the live tensors (glibc otherwise raises
  // its mmap threshold after the first frees and keeps freed memory).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
  AutoencoderKL vae(AutoencoderKLConfig::from_json(bench::sd15_vae_config()));
  vae.load(bench::random_state(vae, {at::kFloat, at::kCPU}, 1), {at::kFloat, at::kCPU});
  const int64_t estimate = int64_t{96} << 20;  // 6 x 256 channels x 128 x 128 x 4 bytes
  ASSERT_EQ(vae.decode_frames_within(estimate, 16, 16), 1);
  ASSERT_EQ(vae.decode_frames_within(2 * estimate, 16, 16), 2);
  c10::InferenceMode inference;
  at::Tensor z = at::randn({1, 4, 1, 16, 16});
  (void)vae.decode_video(z, 1);  // warm-up: one-time allocations (oneDNN, thread pools)
  if (!bench::reset_peak_rss()) GTEST_SKIP() << "peak RSS cannot be reset here";
  const int64_t before = bench::current_rss_bytes();
  at::Tensor video = vae.decode_video(z, 1);
  const int64_t growth = bench::peak_rss_bytes() - before;
  std::printf("decoding one 128x128 frame raised peak RSS by %.1f MB (estimate %.1f MB)\n", bench::to_mb(growth),
              bench::to_mb(estimate));
  EXPECT_EQ(video.size(3), 128);
  EXPECT_LE(growth, estimate);
  EXPECT_GE(growth, estimate / 4);
}

TEST(AutoencoderKL, AcceptsLegacyAttentionKeyNames) {
  TensorMap state = load_safetensors(vae_dir() + "/diffusion_pytorch_model.safetensors");
  TensorMap legacy;
  const std::pair<std::string, std::string> renames[] = {
      {".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."}, {".to_out.0.", ".proj_attn."}};
  int renamed = 0;
  for (const auto& [key, t] : state) {
    std::string k = key;
    for (const auto& [now, old] : renames) {
      auto pos = k.find(now);
      if (k.find("mid_block.attentions.") != std::string::npos && pos != std::string::npos) {
        k.replace(pos, now.size(), old);
        ++renamed;
      }
    }
    legacy[k] = t;
  }
  ASSERT_EQ(renamed, 16);  // {encoder, decoder} x {q, k, v, out} x {weight, bias}

  AutoencoderKL vae(vae_dir() + "/config.json");
  vae.load(legacy);
  at::Tensor latents = final_latents_20().slice(2, 0, 2);
  EXPECT_TRUE(at::equal(vae.decode_video(latents, 2), fixture_vae().decode_video(latents, 2)));
  at::Tensor image = test::golden("input.source_image_u8");
  EXPECT_TRUE(at::equal(vae.encode_reference(image), fixture_vae().encode_reference(image)));
}

TEST(AutoencoderKL, WrongWeightsFailParity) {
  // stable-diffusion-v1-5/vae differs from sd-vae-ft-mse on purpose: the
  // parity check above must be able to tell them apart.
  auto other = load_vae(sd_vae_dir());
  at::Tensor ref = other->encode_reference(test::golden("input.source_image_u8"));
  EXPECT_GT(test::relative_max_error(ref, test::golden("pipeline.ref_latents")), kParityTol);
  at::Tensor video = other->decode_video(final_latents_20().slice(2, 0, 2), 2);
  EXPECT_GT(test::relative_max_error(video, test::golden("pipeline.video").slice(2, 0, 2)), kParityTol);
}

TEST(AutoencoderKL, WrongShapeNamesTheKey) {
  TensorMap state = load_safetensors(vae_dir() + "/diffusion_pytorch_model.safetensors");
  const std::string key = "decoder.up_blocks.1.resnets.2.conv2.weight";
  ASSERT_TRUE(state.count(key));
  state[key] = at::zeros({3, 3, 3, 3});
  const std::string path = testing::TempDir() + "/vae_wrong_shape.safetensors";
  save_safetensors(path, state);

  AutoencoderKL vae(vae_dir() + "/config.json");
  try {
    vae.load(path);
    ADD_FAILURE() << "loading a mis-shaped tensor should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[3, 3, 3, 3]"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(vae.loaded());
  EXPECT_THROW(vae.decode(at::zeros({1, 4, 8, 8})), Error);
  std::filesystem::remove(path);
}

TEST(AutoencoderKL, MissingKeyNamed) {
  TensorMap state = load_safetensors(vae_dir() + "/diffusion_pytorch_model.safetensors");
  state.erase("quant_conv.bias");
  AutoencoderKL vae(vae_dir() + "/config.json");
  try {
    vae.load(state);
    ADD_FAILURE() << "loading without quant_conv.bias should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("quant_conv.bias"), std::string::npos) << e.what();
  }
}

TEST(AutoencoderKL, RejectsBadInputs) {
  const auto& vae = fixture_vae();
  EXPECT_THROW(vae.encode_reference(at::zeros({64, 64, 3}, at::kFloat)), Error);  // not uint8
  EXPECT_THROW(vae.encode_reference(at::zeros({64, 64, 4}, at::kByte)), Error);
  EXPECT_THROW(vae.decode(at::zeros({1, 3, 8, 8})), Error);
  EXPECT_THROW(vae.decode_video(at::zeros({1, 4, 8, 8}), 1), Error);  // 4-D
  EXPECT_THROW(vae.decode_video(at::zeros({1, 4, 2, 8, 8}), 0), Error);
}

TEST(AutoencoderKL, RejectsUnsupportedConfig) {
  Json cfg = read_json_file(vae_dir() + "/config.json");
  Json bad_block = cfg;
  bad_block["down_block_types"][1] = "AttnDownEncoderBlock2D";
  EXPECT_THROW(AutoencoderKLConfig::from_json(bad_block), Error);
  Json bad_groups = cfg;
  bad_groups["norm_num_groups"] = 24;  // 32 is not a multiple of 24
  EXPECT_THROW(AutoencoderKLConfig::from_json(bad_groups), Error);
  Json bad_count = cfg;
  bad_count["up_block_types"] = std::vector<std::string>(3, "UpDecoderBlock2D");
  EXPECT_THROW(AutoencoderKLConfig::from_json(bad_count), Error);
}

}  // namespace
}  // namespace ma
