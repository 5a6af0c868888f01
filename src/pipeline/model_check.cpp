#include "pipeline/model_check.h"

#include <functional>
#include <memory>

#include "pipeline/model_loading.h"
#include "util/error.h"

namespace ma {

namespace {

// Splits the loaders' one-line "a; b; c" reports back into one problem each.
void add_problems(PartCheck& check, const std::string& message) {
  size_t start = 0;
  while (start < message.size()) {
    size_t end = message.find("; ", start);
    if (end == std::string::npos) end = message.size();
    check.problems.push_back(message.substr(start, end - start));
    start = end + 2;
  }
}

void scan(PartCheck& check, const nn::Module& module, bool values) {
  for (const auto& p : module.state_entries()) {
    ++check.tensors;
    check.parameters += p.slot->numel();
    if (values && p.floating && !at::isfinite(*p.slot).all().item<bool>())
      check.problems.push_back("tensor " + p.name + " has NaN or infinite values");
  }
}

PartCheck check_part(const std::string& part, const std::string& files, bool values,
                     const std::function<std::unique_ptr<nn::Module>()>& load) {
  PartCheck check{part, files, {}, 0, 0};
  try {
    std::unique_ptr<nn::Module> module = load();
    scan(check, *module, values);
  } catch (const std::exception& e) {
    add_problems(check, e.what());
  }
  return check;
}

}  // namespace

std::vector<PartCheck> check_model_parts(const ModelPaths& p, bool values) {
  const DeviceDtype fp32;
  std::vector<PartCheck> out;
  PartCheck tok{"tokenizer", p.tokenizer_dir, {}, 0, 0};
  try {
    load_tokenizer(p);
  } catch (const std::exception& e) {
    add_problems(tok, e.what());
  }
  out.push_back(tok);
  out.push_back(check_part("text_encoder", p.text_encoder_weights, values, [&] { return load_text_encoder(p, fp32); }));
  out.push_back(check_part("vae", p.vae_weights, values, [&] { return load_vae(p, fp32); }));
  out.push_back(check_part("appearance_encoder", p.appearance_encoder_weights, values,
                           [&] { return load_appearance_encoder(p, fp32); }));
  out.push_back(check_part("controlnet", p.controlnet_weights, values, [&] { return load_controlnet(p, fp32); }));
  out.push_back(check_part("unet3d", p.unet_weights + " + " + p.motion_module, values,
                           [&] { return load_unet3d(p, fp32); }));
  return out;
}

}  // namespace ma
