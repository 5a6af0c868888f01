// resolve_model_paths on the fixture layout and on synthetic layouts built in
// a temp dir (empty files suffice: it only checks which files exist).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "weights/model_paths.h"
#include "test_util.h"
#include "util/error.h"

namespace ma {
namespace {

namespace fs = std::filesystem;

class TempModels {
 public:
  explicit TempModels(const std::string& name)
      : root_(fs::temp_directory_path() / ("ma_model_paths_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~TempModels() { fs::remove_all(root_); }
  void touch(const std::string& rel) const {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << "x";
  }
  // Every part of a complete install, weights in the given file name.
  void complete(const std::string& weights = "diffusion_pytorch_model.safetensors") const {
    touch("stable-diffusion-v1-5/tokenizer/vocab.json");
    touch("stable-diffusion-v1-5/tokenizer/merges.txt");
    for (const char* part : {"stable-diffusion-v1-5/text_encoder", "stable-diffusion-v1-5/unet",
                             "stable-diffusion-v1-5/vae", "MagicAnimate/appearance_encoder",
                             "MagicAnimate/densepose_controlnet"}) {
      touch(std::string(part) + "/config.json");
      touch(std::string(part) + "/" + weights);
    }
    touch("MagicAnimate/temporal_attention/temporal_attention.ckpt");
  }
  std::string path(const std::string& rel = "") const { return (root_ / rel).string(); }

 private:
  fs::path root_;
};

std::string resolve_error(const std::string& dir, const ModelPathOverrides& o = {}) {
  try {
    resolve_model_paths(dir, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelPaths, ResolvesFixtureLayoutPreferringSafetensorsAndFtMseVae) {
  const std::string m = test::models_dir();
  ModelPaths p = resolve_model_paths(m);
  EXPECT_EQ(p.tokenizer_dir, m + "/stable-diffusion-v1-5/tokenizer");
  EXPECT_EQ(p.text_encoder_config, m + "/stable-diffusion-v1-5/text_encoder/config.json");
  // Both model.safetensors and pytorch_model.bin exist: safetensors wins.
  EXPECT_EQ(p.text_encoder_weights, m + "/stable-diffusion-v1-5/text_encoder/model.safetensors");
  EXPECT_EQ(p.unet_config, m + "/stable-diffusion-v1-5/unet/config.json");
  EXPECT_EQ(p.unet_weights, m + "/stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors");
  // The original decodes with sd-vae-ft-mse, not SD 1.5's own VAE.
  EXPECT_EQ(p.vae_config, m + "/sd-vae-ft-mse/config.json");
  EXPECT_EQ(p.vae_weights, m + "/sd-vae-ft-mse/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(p.appearance_encoder_config, m + "/MagicAnimate/appearance_encoder/config.json");
  EXPECT_EQ(p.appearance_encoder_weights, m + "/MagicAnimate/appearance_encoder/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(p.controlnet_config, m + "/MagicAnimate/densepose_controlnet/config.json");
  // fp32 file preferred over the fp16 one next to it.
  EXPECT_EQ(p.controlnet_weights, m + "/MagicAnimate/densepose_controlnet/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(p.motion_module, m + "/MagicAnimate/temporal_attention/temporal_attention.ckpt");
}

TEST(ModelPaths, FallsBackToSdVaeWithoutFtMse) {
  TempModels t("no_ft_mse");
  t.complete();
  ModelPaths p = resolve_model_paths(t.path());
  EXPECT_EQ(p.vae_weights, t.path("stable-diffusion-v1-5/vae/diffusion_pytorch_model.safetensors"));
}

TEST(ModelPaths, IncompleteFtMseFolderIsAnErrorNotAFallback) {
  TempModels t("broken_ft_mse");
  t.complete();
  t.touch("sd-vae-ft-mse/config.json");  // weights missing
  const std::string msg = resolve_error(t.path());
  EXPECT_NE(msg.find("vae weights: " + t.path("sd-vae-ft-mse")), std::string::npos) << msg;
}

TEST(ModelPaths, AcceptsBinAndFp16Weights) {
  TempModels bin("bin");
  bin.complete("pytorch_model.bin");
  EXPECT_EQ(resolve_model_paths(bin.path()).unet_weights, bin.path("stable-diffusion-v1-5/unet/pytorch_model.bin"));
  TempModels fp16("fp16");
  fp16.complete("diffusion_pytorch_model.fp16.safetensors");
  fp16.touch("stable-diffusion-v1-5/unet/diffusion_pytorch_model.bin");
  // .bin outranks the lossy fp16 variant.
  EXPECT_EQ(resolve_model_paths(fp16.path()).unet_weights,
            fp16.path("stable-diffusion-v1-5/unet/diffusion_pytorch_model.bin"));
  EXPECT_EQ(resolve_model_paths(fp16.path()).controlnet_weights,
            fp16.path("MagicAnimate/densepose_controlnet/diffusion_pytorch_model.fp16.safetensors"));
}

TEST(ModelPaths, OverridesReplaceEachPart) {
  TempModels t("overrides");
  t.touch("my_sd/tokenizer/vocab.json");
  t.touch("my_sd/tokenizer/merges.txt");
  for (const char* part : {"my_sd/text_encoder", "my_sd/unet", "my_vae", "my_app", "my_cn"}) {
    t.touch(std::string(part) + "/config.json");
    t.touch(std::string(part) + "/model.safetensors");
  }
  t.touch("elsewhere/mm.ckpt");
  ModelPathOverrides o;
  o.sd = t.path("my_sd");
  o.vae = t.path("my_vae");
  o.appearance_encoder = t.path("my_app");
  o.controlnet = t.path("my_cn");
  o.motion_module = t.path("elsewhere/mm.ckpt");
  ModelPaths p = resolve_model_paths(t.path("no_such_models_dir"), o);
  EXPECT_EQ(p.tokenizer_dir, t.path("my_sd/tokenizer"));
  EXPECT_EQ(p.unet_weights, t.path("my_sd/unet/model.safetensors"));
  EXPECT_EQ(p.vae_weights, t.path("my_vae/model.safetensors"));
  EXPECT_EQ(p.appearance_encoder_config, t.path("my_app/config.json"));
  EXPECT_EQ(p.controlnet_weights, t.path("my_cn/model.safetensors"));
  EXPECT_EQ(p.motion_module, t.path("elsewhere/mm.ckpt"));
}

TEST(ModelPaths, OneErrorListsEveryMissingFile) {
  TempModels t("missing");
  t.complete();
  fs::remove(t.path("stable-diffusion-v1-5/tokenizer/merges.txt"));
  fs::remove(t.path("stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors"));
  fs::remove(t.path("MagicAnimate/densepose_controlnet/config.json"));
  fs::remove(t.path("MagicAnimate/temporal_attention/temporal_attention.ckpt"));
  const std::string msg = resolve_error(t.path());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing model files (4)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(t.path("stable-diffusion-v1-5/tokenizer/merges.txt")), std::string::npos) << msg;
  EXPECT_NE(msg.find("unet weights: " + t.path("stable-diffusion-v1-5/unet")), std::string::npos) << msg;
  EXPECT_NE(msg.find("diffusion_pytorch_model.safetensors|model.safetensors|diffusion_pytorch_model.bin"),
            std::string::npos)
      << "should say which names it tried: " << msg;
  EXPECT_NE(msg.find(t.path("MagicAnimate/densepose_controlnet/config.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find(t.path("MagicAnimate/temporal_attention/temporal_attention.ckpt")), std::string::npos) << msg;
  // Parts that are present are not reported.
  EXPECT_EQ(msg.find("text_encoder"), std::string::npos) << msg;
}

TEST(ModelPaths, EmptyDirectoryReportsEverything) {
  TempModels t("empty");
  const std::string msg = resolve_error(t.path());
  // 2 tokenizer files + 5 parts x (config + weights) + motion module
  EXPECT_NE(msg.find("missing model files (13)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ma
