// The MagicAnimate pipeline, top to bottom as the paper (and the original's
// AnimationPipeline.__call__) runs it.
#include "pipeline/animation.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <initializer_list>

#include "pipeline/context_windows.h"
#include "diffusion/sampler.h"
#include "pipeline/denoise_windows.h"
#include "pipeline/low_memory.h"
#include "pipeline/model_loading.h"
#include "util/cpu_allocator.h"
#include "util/dtype.h"
#include "util/error.h"
#include "util/threads.h"
#include "weights/mapped_pages.h"

namespace ma {

namespace {

using Clock = std::chrono::steady_clock;

// The original draws noise for one 16-frame clip and repeats it along the
// frames (prepare_latents' clip_length), so every 16-frame block starts equal.
constexpr int64_t kNoiseClipFrames = 16;

// The original's latent scale and the latent downsampling factor of the VAE.
constexpr int64_t kLatentFactor = 8;

std::string str(int64_t v) { return std::to_string(v); }

void validate(const at::Tensor& source, const at::Tensor& control, const AnimationParams& p, int64_t max_window) {
  p.validate();
  if (p.context > max_window)  // the motion modules this UNet was built with may hold fewer positions
    throw Error("context must be between 1 and " + str(max_window) +
                " frames (the motion modules' position limit), got " + str(p.context));
  if (source.dim() != 3 || source.size(0) != p.height || source.size(1) != p.width || source.size(2) != 3 ||
      source.scalar_type() != at::kByte)
    throw Error("source image must be uint8 [" + str(p.height) + ", " + str(p.width) + ", 3]");
  if (control.dim() != 4 || control.size(0) < 1 || control.size(1) != p.height || control.size(2) != p.width ||
      control.size(3) != 3 || control.scalar_type() != at::kByte)
    throw Error("motion video must be uint8 [frames >= 1, " + str(p.height) + ", " + str(p.width) + ", 3]");
}

// [F, C, h, w] (frames folded into the batch) <-> the original's [1, C, F, h, w].
at::Tensor to_video_layout(const at::Tensor& frames) { return frames.permute({1, 0, 2, 3}).unsqueeze(0); }
at::Tensor from_video_layout(const at::Tensor& video) { return video.squeeze(0).permute({1, 0, 2, 3}); }

// Every model of a pretrained_models folder, in the engine's dtype and device.
EngineModels load_engine_models(const ModelPaths& paths, const EngineOptions& options) {
  require_dtype_supported(options.dtype, options.device);
  configure_threads(options.threads);
  enable_allocation_cache();  // before loading, so weights come from it too
  return load_models(paths, DeviceDtype{options.dtype, options.device}, /*for_inference=*/true);
}

}  // namespace

struct Animator::Impl {
  EngineOptions options;
  EngineModels models;
  MotionModuleConfig motion;  // what the UNet was built with (EngineModels' contract)
  WindowShare share;  // this process's windows; world 1 unless set_window_share
  MappedBack mapped_back;  // low-memory mode: weights written to $TMPDIR to be mapped

  // Low-memory mode: a network that has run gives its file-mapped weights'
  // pages back until it runs again (weights/mapped_pages.h).
  void release(const nn::Module& net) const {
    if (options.low_memory) (void)release_file_pages(net.tensors());
  }


  at::Tensor encode_prompt(const std::string& prompt) const {
    at::Tensor ids = models.tokenizer->tokenize(prompt).to(options.device);
    return models.text_encoder->forward(ids);
  }
};

EngineModels::EngineModels() = default;
EngineModels::EngineModels(EngineModels&&) noexcept = default;
EngineModels& EngineModels::operator=(EngineModels&&) noexcept = default;
EngineModels::~EngineModels() = default;

std::vector<const nn::Module*> EngineModels::networks() const {
  std::vector<const nn::Module*> out;
  for (const nn::Module* net : std::initializer_list<const nn::Module*>{
           text_encoder.get(), vae.get(), appearance_encoder.get(), controlnet.get(), unet.get()})
    if (net) out.push_back(net);
  return out;
}

WeightBytes EngineModels::weight_bytes() const {
  WeightBytes out;
  for (const nn::Module* net : networks())
    for (const at::Tensor& t : net->tensors()) {
      out.total += static_cast<int64_t>(t.nbytes());
      out.file_backed += file_backed_bytes(t);
    }
  return out;
}

Animator::Animator(EngineModels models, const EngineOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  require_dtype_supported(options.dtype, options.device);
  if (!models.tokenizer || !models.text_encoder || !models.vae || !models.appearance_encoder || !models.controlnet ||
      !models.unet)
    throw Error("Animator: every model must be given");
  if (models.unet->kind() != UNetKind::kVideo || models.appearance_encoder->kind() != UNetKind::kAppearanceEncoder)
    throw Error("Animator: the UNet must be the video kind and the appearance encoder its own kind");
  m.options = options;
  configure_threads(options.threads);
  enable_allocation_cache();
  m.models = std::move(models);
  if (options.low_memory) m.mapped_back = map_resident_weights(m.models.networks());
}

Animator::Animator(const ModelPaths& paths, const EngineOptions& options)
    : Animator(load_engine_models(paths, options), options) {}

Animator::~Animator() = default;

const EngineOptions& Animator::options() const { return impl_->options; }

WeightBytes Animator::weight_bytes() const {
  WeightBytes out = impl_->models.weight_bytes();
  out.written_to_map = impl_->mapped_back.bytes;
  out.not_written = impl_->mapped_back.not_done;
  return out;
}

std::string describe_low_memory(const WeightBytes& w) {
  auto gib = [](int64_t b) {
    char buf[32];
    const double mib = static_cast<double>(b) / (1024.0 * 1024);
    if (mib < 1024)
      std::snprintf(buf, sizeof buf, "%.1f MiB", mib);
    else
      std::snprintf(buf, sizeof buf, "%.2f GiB", mib / 1024);
    return std::string(buf);
  };
  if (w.file_backed == 0)
    return "warning: --low-memory keeps every weight resident" + (w.not_written.empty() ? "" : ": " + w.not_written);
  std::string line = "low memory: " + gib(w.file_backed) + " of " + gib(w.total) +
                     " of weights stay in their files while their network is not running";
  if (w.written_to_map > 0)
    line += " (" + gib(w.written_to_map) + " of them converted or read from pickles, written to $TMPDIR to be mapped)";
  else if (!w.not_written.empty())
    line += "; the rest stays resident: " + w.not_written;
  return line;
}

void Animator::set_window_share(const WindowShare& share) {
  (void)share.select({});  // a rank outside the world fails here, not mid-run
  impl_->share = share;
}

at::Tensor Animator::animate(const at::Tensor& source, const at::Tensor& control, const AnimationParams& p,
                             const ProgressCallback& progress, const std::atomic<bool>* cancel,
                             const TapCallback& tap) {
  Impl& m = *impl_;
  validate(source, control, p, m.motion.max_frames);
  // The sampler of this run (p.scheduler; DDIM by default). Its step count is
  // p.steps except where its timesteps hold fewer (DPM-Solver++ at 1000 steps
  // drops a duplicate timestep, as diffusers does).
  std::unique_ptr<Sampler> sampler = make_sampler(p.scheduler, p.steps);
  const std::vector<int64_t>& timesteps = sampler->timesteps();
  const int64_t steps = static_cast<int64_t>(timesteps.size());
  c10::InferenceMode inference;
  const auto started = Clock::now();
  const auto dev = at::TensorOptions().device(m.options.device).dtype(m.options.dtype);
  auto emit = [&](ProgressEvent e) {
    e.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
    if (progress) progress(e);
  };
  auto record = [&](const std::string& name, const at::Tensor& value) {
    if (tap) tap(name, value);
  };
  auto check_cancel = [&] {
    if (cancel && cancel->load()) throw Cancelled();
  };

  // 1. Text: the prompt and the negative prompt; batch order [uncond, cond].
  emit({"encode", 0, steps, 0, 0, 0, -1});
  at::Tensor text_cond = m.encode_prompt(p.prompt);
  at::Tensor text_uncond = m.encode_prompt(p.negative_prompt);
  record("text.embeddings0", text_cond);
  record("text.embeddings1", text_uncond);
  const at::Tensor text = at::cat({text_uncond, text_cond}, 0);
  m.release(*m.models.text_encoder);

  // 2. Reference image -> latents (posterior mean x 0.18215).
  at::Tensor ref_latents = m.models.vae->encode_reference(source.to(m.options.device));
  record("pipeline.ref_latents", ref_latents);
  m.release(*m.models.vae);

  // 3. DensePose frames, padded with the last frame to a multiple of L, the
  // original's own parameter (animation.py:193-194, `config.L`, 16 in its
  // configs), not of the window: the pipeline then windows by context_frames
  // (pipeline_animation.py:544, default 16, never passed by animation.py).
  const int64_t frames = control.size(0);
  const int64_t padded = (frames + p.length_multiple - 1) / p.length_multiple * p.length_multiple;
  at::Tensor control_frames = control;
  if (padded > frames)
    control_frames = at::cat({control, control.slice(0, frames - 1).expand({padded - frames, -1, -1, -1})}, 0);
  const at::Tensor cond_images = control_frames.to(m.options.device).permute({0, 3, 1, 2}).to(m.options.dtype) / 255.0;

  // 4. Initial noise: one 16-frame clip from a CPU generator seeded with the
  // seed (bit-identical to torch.randn on CPU), repeated along the frames.
  // The clip length is a third parameter, neither L nor the window: the
  // original's prepare_latents(clip_length=16) is never given another
  // (pipeline_animation.py:323, called at :626-636) and repeats it
  // video_length // 16 times (:342). Where the padded length is not a multiple
  // of 16 (an L that is not), that floor drops the last frames in the original
  // (every later step runs on latents.shape[2]); here the repeat is rounded up
  // and cut to the padded length, so the first padded // 16 * 16 frames get
  // the original's noise and no frame is lost.
  const int64_t h = p.height / kLatentFactor, w = p.width / kLatentFactor;
  const int64_t channels = m.models.unet->config().in_channels;
  at::Generator generator = at::detail::createCPUGenerator(p.seed);
  at::Tensor clip = at::randn({1, channels, kNoiseClipFrames, h, w}, generator, at::TensorOptions().dtype(at::kFloat));
  const int64_t repeats = (padded + kNoiseClipFrames - 1) / kNoiseClipFrames;
  at::Tensor noise = clip.repeat({1, 1, repeats, 1, 1}).slice(2, 0, padded);
  record("pipeline.init_latents", noise);
  at::Tensor latents = from_video_layout(noise).to(dev).contiguous();  // [F, C, h, w]

  // 5. Denoising.
  const std::vector<Window> windows = m.share.select(uniform_windows(padded, p.context, p.overlap));
  const int64_t total_windows = static_cast<int64_t>(windows.size()) * steps;
  nn::ReferenceBank bank;
  // Deep-feature reuse (--deep-cache N, opt-in; models/deep_cache.h): one
  // cache per window. Steps 0, N, 2N... are full and store; the others run
  // the shallow branches and read the reference bank of the last full step.
  std::vector<DeepFeatureCache> deep(p.deep_cache > 1 ? windows.size() : 0);
  for (int64_t i = 0; i < steps; ++i) {
    const double t = static_cast<double>(timesteps[i]);
    const std::string step_name = "step" + str(i);
    record(step_name + ".latents_in", to_video_layout(latents));
    const bool full_step = deep_cache_full_step(i, p.deep_cache);
    for (DeepFeatureCache& c : deep) c.mode = full_step ? DeepFeatureCache::Mode::kStore : DeepFeatureCache::Mode::kReuse;

    // 5a. Appearance encoder writes the reference bank. Only the conditional
    // pass is banked: the unconditional half never reads the reference.
    if (full_step) {
      bank.start_write();
      m.models.appearance_encoder->forward(ref_latents, t, text_cond, 1, nullptr, &bank);
      bank.start_read();
      m.release(*m.models.appearance_encoder);
    }

    // 5b/5c. ControlNet residuals and the 3D UNet over overlapping windows,
    // both guidance halves per window (the UNet runs them in turn);
    // predictions are summed per frame and averaged.
    DenoiseInputs in;
    in.unet = m.models.unet.get();
    in.controlnet = m.models.controlnet.get();
    in.latents = latents;
    in.cond_images = cond_images;
    in.text_cond = text_cond;
    in.text = text;
    in.timestep = t;
    in.block = p.context;
    in.bank = &bank;
    in.low_memory = m.options.low_memory;
    in.deep = deep.empty() ? nullptr : &deep;
    WindowSums sums = denoise_windows(in, windows, [&](size_t wi) {
      check_cancel();
      ProgressEvent e{"denoise", i + 1, steps, static_cast<int64_t>(wi) + 1, static_cast<int64_t>(windows.size()), 0, -1};
      const int64_t done = i * static_cast<int64_t>(windows.size()) + static_cast<int64_t>(wi) + 1;
      const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
      e.eta_s = elapsed / static_cast<double>(done) * static_cast<double>(total_windows - done);
      emit(e);
    });
    if (deep.empty()) bank.clear();  // reuse keeps it until the next full step
    m.release(*m.models.unet);
    m.share.reduce(sums);  // with other processes: every rank now holds every window's sums

    // 5d. Classifier-free guidance and the sampler's step (DDIM's by default).
    at::Tensor guided = sums.guided(p.guidance);
    record(step_name + ".noise_pred_guided", to_video_layout(guided));
    latents = sampler->step(static_cast<size_t>(i), guided, latents);
    record(step_name + ".latents_out", to_video_layout(latents));
  }

  // 6. Decode the frames of the original length.
  emit({"decode", steps, steps, 0, 0, 0, -1});
  check_cancel();
  const int64_t decode_batch = m.models.vae->decode_batch(kVaeDecodeBudgetBytes, h, w);
  at::Tensor video = m.models.vae->decode_video(to_video_layout(latents.slice(0, 0, frames)), decode_batch);
  record("pipeline.video", video);
  m.release(*m.models.vae);
  emit({"done", steps, steps, 0, 0, 0, 0});
  return from_video_layout(video).to(at::kCPU).to(at::kFloat);
}

at::Tensor video_to_u8(const at::Tensor& video) {
  // (x * 255).astype(uint8): truncation toward zero of values in [0, 255].
  return (video.to(at::kFloat) * 255.0).to(at::kByte).permute({0, 2, 3, 1}).contiguous();
}

}  // namespace ma
