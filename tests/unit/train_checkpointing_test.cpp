// --gradient-checkpointing (nn/checkpoint.h, models/block_checkpoint.h): the
// same loss and gradients as without it, for both training stages on the
// tiny models (the inputs of the one-step parity case), with a lower peak of
// live tensor memory, counted by an allocator wrapper (deterministic on one
// thread: the same ops allocate the same sizes in the same order).
#include <gtest/gtest.h>

#include <c10/core/CPUAllocator.h>

#include <cmath>
#include <map>
#include <mutex>
#include <unordered_map>

#include "weights/safetensors.h"
#include "models/load.h"
#include "nn/checkpoint.h"
#include "pipeline/model_loading.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"
#include "tests/tiny_train.h"
#include "tests/train_data.h"
#include "train/objective.h"
#include "train/trainer.h"
#include "util/threads.h"

namespace ma {
namespace {

// Counts the bytes of live CPU tensor storage allocated while installed, and
// their peak. Allocation goes to the allocator that was current.
class CountingAllocator final : public c10::Allocator {
 public:
  // Both spellings of allocate(): its constness differs between libtorch 1.x and 2.x.
  c10::DataPtr allocate(size_t n) const { return counted(n); }
  c10::DataPtr allocate(size_t n) { return counted(n); }
  c10::DeleterFnPtr raw_deleter() const { return &CountingAllocator::release; }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  static CountingAllocator& instance() {
    static CountingAllocator* a = new CountingAllocator();  // outlives every tensor it counted
    return *a;
  }
  void install() {
    std::lock_guard<std::mutex> lock(mutex_);
    inner_ = c10::GetCPUAllocator();
    live_bytes_ = peak_bytes_ = 0;
    c10::SetCPUAllocator(this, /*priority=*/100);
  }
  void uninstall() { c10::SetCPUAllocator(inner_, /*priority=*/100); }
  int64_t peak_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_bytes_;
  }

 private:
  c10::DataPtr counted(size_t n) const {
    c10::DataPtr inner = inner_->allocate(n);
    void* data = inner.get();
    // The inner allocators hand out context == data with their raw deleter
    // (what raw_allocate needs); keep that deleter and count the bytes.
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[data] = {n, inner.get_deleter()};
    inner.release_context();
    live_bytes_ += static_cast<int64_t>(n);
    peak_bytes_ = std::max(peak_bytes_, live_bytes_);
    return {data, data, &CountingAllocator::release, c10::Device(c10::DeviceType::CPU)};
  }
  static void release(void* data) {
    CountingAllocator& self = instance();
    c10::DeleterFnPtr deleter = nullptr;
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.sizes_.find(data);
      if (it == self.sizes_.end()) {
        // Allocated before install() but freed through the current
        // allocator's raw_deleter() (oneDNN's scratch memory does that).
        deleter = self.inner_->raw_deleter();
      } else {
        self.live_bytes_ -= static_cast<int64_t>(it->second.first);
        deleter = it->second.second;
        self.sizes_.erase(it);
      }
    }
    deleter(data);
  }

  c10::Allocator* inner_ = nullptr;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, std::pair<size_t, c10::DeleterFnPtr>> sizes_;
  mutable int64_t live_bytes_ = 0, peak_bytes_ = 0;
};

struct Run {
  double loss = 0;
  std::map<std::string, at::Tensor> grads;
  int64_t peak_bytes = 0;  // live tensor bytes at the peak of forward + backward
};

struct Models {
  std::unique_ptr<UNetModel> app, unet;
  std::unique_ptr<ControlNetModel> ctl;
  std::vector<std::pair<std::string, at::Tensor*>> trainable;
  bool grad_app = false, grad_ctl = false;

  void take(const std::string& part, nn::Module& m, const char* containing = "") {
    for (const auto& p : m.parameters())
      if (p.name.find(containing) != std::string::npos) {
        *p.slot = p.slot->detach().clone().requires_grad_(true);
        trainable.emplace_back(part + "." + p.name, p.slot);
      }
  }
  void set_checkpointing(bool on) {
    app->gradient_checkpointing = unet->gradient_checkpointing = ctl->gradient_checkpointing = on;
  }
  Run run(const train::ObjectiveInputs& in) {
    // Gradients start as zeros allocated here, so the counted peak is that of
    // the activations and temporaries (what checkpointing changes), not of
    // the gradient tensors (the same either way).
    for (auto& [name, slot] : trainable) slot->mutable_grad() = at::zeros_like(*slot);
    Run r;
    CountingAllocator::instance().install();
    {
      at::Tensor loss = train::diffusion_loss({app.get(), ctl.get(), unet.get(), grad_app, grad_ctl}, NoiseSchedule(), in);
      loss.backward();
      r.loss = loss.item<double>();
    }
    CountingAllocator::instance().uninstall();
    r.peak_bytes = CountingAllocator::instance().peak_bytes();
    for (auto& [name, slot] : trainable)
      if (slot->grad().abs().max().item<double>() > 0) r.grads[name] = slot->grad().clone();
    return r;
  }
};

// The inputs of the one-step parity case (tests/data/cases/train_step).
train::ObjectiveInputs case_inputs(int stage) {
  const TensorMap c =
      load_safetensors(test::data_dir() + "/cases/train_step/stage" + std::to_string(stage) + ".safetensors");
  return {c.at("in.z0"), c.at("in.ref_latents"), c.at("in.pose"), c.at("in.noise"), c.at("in.t"), c.at("in.text"), false};
}

Models tiny_models(int stage) {
  const ModelPaths paths = resolve_model_paths(test::models_dir());
  Models m;
  m.app = load_appearance_encoder(paths, {});
  m.ctl = load_controlnet(paths, {});
  if (stage == 1) {
    m.unet = std::make_unique<UNetModel>(UNetConfig::load(paths.unet_config), UNetKind::kImage);
    load_module_file(*m.unet, paths.unet_weights, {});
    m.take("appearance_encoder", *m.app);
    m.take("controlnet", *m.ctl);
    m.grad_app = m.grad_ctl = true;
  } else {
    m.unet = load_unet3d(paths, {});
    m.take("motion_modules", *m.unet, "motion_modules.");
  }
  return m;
}

// Gradients agree, not bit for bit: a tensor used by several blocks (the
// time embedding, the text, the bank entries, the skip connections with
// their ControlNet residuals) collects its gradient as one sum per
// checkpointed block, added by the outer backward, instead of inside one
// graph, so float32 sums run in another order. Each part's whole gradient
// (L2 over all its tensors) within 1e-6 relative; each tensor within 1e-5
// (small tensors such as norm biases sum terms that cancel, which magnifies
// rounding: measured up to 9e-7 for single tensors, ~1e-7 for whole parts).
void expect_same_gradients(const Run& plain, const Run& ckpt, size_t expected_tensors) {
  EXPECT_EQ(plain.loss, ckpt.loss) << "the checkpointed forward runs the same ops in the same order";
  ASSERT_EQ(plain.grads.size(), ckpt.grads.size());
  EXPECT_GE(plain.grads.size(), expected_tensors / 2) << "most trainable tensors get a gradient";
  std::map<std::string, std::pair<double, double>> parts;  // part -> (|diff|^2, |g|^2)
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, g] : plain.grads) {
    ASSERT_TRUE(ckpt.grads.count(name)) << name << " has no gradient with checkpointing";
    const double d2 = (ckpt.grads.at(name) - g).to(at::kDouble).pow(2).sum().item<double>();
    const double g2 = g.to(at::kDouble).pow(2).sum().item<double>();
    auto& part = parts[name.substr(0, name.find('.'))];
    part.first += d2, part.second += g2;
    const double err = std::sqrt(d2 / g2);
    if (err > worst) worst = err, worst_name = name;
    EXPECT_LE(err, 1e-5) << name;
  }
  for (const auto& [part, sums] : parts) {
    const double err = std::sqrt(sums.first / sums.second);
    std::cout << part << ": relative gradient difference " << err << "\n";
    EXPECT_LE(err, 1e-6) << part;
  }
  std::cout << "worst single tensor " << worst << " (" << worst_name << ")\n";
}

void check_stage(int stage) {
  configure_threads(1);  // one thread: deterministic allocation order and sums
  Models m = tiny_models(stage);
  const train::ObjectiveInputs in = case_inputs(stage);
  const Run plain = m.run(in);
  m.set_checkpointing(true);
  const Run ckpt = m.run(in);
  expect_same_gradients(plain, ckpt, m.trainable.size());
  std::cout << "stage " << stage << ": peak live tensor memory " << plain.peak_bytes / 1024 << " KiB without, "
            << ckpt.peak_bytes / 1024 << " KiB with checkpointing\n";
  EXPECT_LT(ckpt.peak_bytes, plain.peak_bytes);
  // And off again: the plain path is untouched by having checkpointed once.
  m.set_checkpointing(false);
  const Run again = m.run(in);
  EXPECT_EQ(again.peak_bytes, plain.peak_bytes);
  for (const auto& [name, g] : plain.grads) EXPECT_TRUE(again.grads.at(name).equal(g)) << name;
}

TEST(GradientCheckpointing, Stage1SameGradientsLessMemory) { check_stage(1); }
TEST(GradientCheckpointing, Stage2SameGradientsLessMemory) { check_stage(2); }

// Through the trainer (TrainOptions::gradient_checkpointing, the --flag):
// the same first loss (same forward), and after one update the same second
// loss within 1e-5 relative (the update moves by AdamW's lr * g / sqrt(v),
// whose rounding follows the gradients' ~1e-7 differences).
TEST(GradientCheckpointing, TrainerStepsMatch) {
  for (int stage : {1, 2}) {
    test::TempDir data;
    test::make_tiktok_clip(data.path(), "a", 4, 64, 64, 5);
    std::vector<double> losses[2];
    for (int ckpt = 0; ckpt < 2; ++ckpt) {
      test::TempDir out;
      train::TrainOptions o = test::tiny_train_options(stage, data.path(), out.path());
      o.optim.lr = 1e-3;
      o.seed = 11;
      o.gradient_checkpointing = ckpt == 1;
      train::Trainer t(o);
      for (int i = 0; i < 2; ++i) losses[ckpt].push_back(t.train_step().loss);
    }
    EXPECT_EQ(losses[0][0], losses[1][0]) << "stage " << stage;
    EXPECT_NEAR(losses[0][1], losses[1][1], 1e-5 * losses[0][1]) << "stage " << stage;
  }
}

// The function itself on a small graph: an input that needs no gradient, a
// parameter inside the body (accumulates in .grad) and one that is an input.
TEST(GradientCheckpointing, FunctionMatchesPlainAutograd) {
  const at::Tensor w = at::randn({4, 4}, at::kDouble).requires_grad_(true);
  const at::Tensor x0 = at::randn({3, 4}, at::kDouble);
  const at::Tensor b0 = at::randn({4}, at::kDouble);
  auto body = [&w](const std::vector<at::Tensor>& in) {
    at::Tensor h = at::tanh(at::matmul(in[0], w) + in[1]);
    return std::vector<at::Tensor>{h, h.sum(0)};
  };
  std::map<std::string, at::Tensor> grads[2];
  for (int ckpt = 0; ckpt < 2; ++ckpt) {
    w.mutable_grad() = at::Tensor();
    const at::Tensor x = x0.clone(), b = b0.clone().requires_grad_(true);
    const auto out = ckpt ? nn::checkpoint(body, {x, b}) : body({x, b});
    ASSERT_EQ(out.size(), 2u);
    (out[0].pow(2).sum() + out[1].sum()).backward();
    grads[ckpt]["w"] = w.grad().clone();
    grads[ckpt]["b"] = b.grad().clone();
  }
  for (const char* k : {"w", "b"}) EXPECT_TRUE(at::allclose(grads[0][k], grads[1][k], 0, 1e-14)) << k;

  // Only the body's parameters need a gradient: the outputs still carry a graph.
  w.mutable_grad() = at::Tensor();
  const auto out = nn::checkpoint(body, {x0, b0}, /*needs_graph=*/true);
  ASSERT_TRUE(out[0].requires_grad());
  out[0].sum().backward();
  ASSERT_TRUE(w.grad().defined());
  at::Tensor expected;
  {
    const at::Tensor w2 = w.detach().clone().requires_grad_(true);
    at::tanh(at::matmul(x0, w2) + b0).sum().backward();
    expected = w2.grad();
  }
  EXPECT_TRUE(at::allclose(w.grad(), expected, 0, 1e-14));
}

}  // namespace
}  // namespace ma
