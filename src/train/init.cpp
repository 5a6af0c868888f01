#include "train/init.h"

#include <cmath>

#include "models/motion_module.h"
#include "nn/init.h"
#include "util/error.h"

namespace ma::train {
namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

}  // namespace

const std::vector<int64_t> kDefaultConditioningChannels = {16, 32, 96, 256};

nlohmann::json controlnet_config_from_unet(const nlohmann::json& unet) {
  nlohmann::json c = unet;
  c["_class_name"] = "ControlNetModel";
  for (const char* k : {"up_block_types", "out_channels", "center_input_sample", "sample_size"}) c.erase(k);
  c["conditioning_embedding_out_channels"] = kDefaultConditioningChannels;
  c["controlnet_conditioning_channel_order"] = "rgb";
  return c;
}

void init_controlnet_from_unet(ControlNetModel& controlnet, const TensorMap& unet_weights, const DeviceDtype& opt,
                               uint64_t seed) {
  nn::randomize(controlnet, opt, seed);
  for (const nn::ParamInfo& p : controlnet.state_entries()) {
    const bool copied = p.name.rfind("conv_in.", 0) == 0 || p.name.rfind("time_embedding.", 0) == 0 ||
                        p.name.rfind("down_blocks.", 0) == 0 || p.name.rfind("mid_block.", 0) == 0;
    const bool zero = p.name.rfind("controlnet_down_blocks.", 0) == 0 || p.name.rfind("controlnet_mid_block.", 0) == 0 ||
                      p.name.rfind("controlnet_cond_embedding.conv_out.", 0) == 0;
    if (copied) {
      auto it = unet_weights.find(p.name);
      if (it == unet_weights.end()) throw Error("ControlNet from the UNet: the UNet has no " + p.name);
      if (!it->second.sizes().equals(p.shape))
        throw Error("ControlNet from the UNet: " + p.name + " is " + nn::shape_str(it->second.sizes()) + ", expected " +
                    nn::shape_str(p.shape));
      *p.slot = convert_tensor(it->second, opt).clone();
    } else if (zero) {
      p.slot->zero_();
    }
  }
}

at::Tensor sinusoidal_position_encoding(int64_t max_len, int64_t dim) {
  // pe[pos, 2i] = sin(pos * 10000^(-2i/dim)), pe[pos, 2i+1] = cos(...), as AnimateDiff's PositionalEncoding.
  at::Tensor position = at::arange(max_len, at::kFloat).unsqueeze(1);
  at::Tensor div_term = at::exp(at::arange(0, dim, 2, at::kFloat) * (-std::log(10000.0) / static_cast<double>(dim)));
  at::Tensor pe = at::zeros({1, max_len, dim}, at::kFloat);
  pe.index_put_({0, at::indexing::Slice(), at::indexing::Slice(0, at::indexing::None, 2)}, at::sin(position * div_term));
  pe.index_put_({0, at::indexing::Slice(), at::indexing::Slice(1, at::indexing::None, 2)}, at::cos(position * div_term));
  return pe;
}

void init_motion_modules(UNetModel& unet, const DeviceDtype& opt, uint64_t seed) {
  // Module by module (a full-size UNet's random state would be 3.4 GB).
  uint64_t index = 0;
  size_t found = 0;
  unet.visit([&](const std::string& path, nn::Module& m) {
    if (!dynamic_cast<MotionModule*>(&m)) return;
    const TensorMap fresh = nn::random_state(m, opt, seed + 7919 * ++index);
    for (const nn::ParamInfo& p : m.state_entries()) {
      if (ends_with(p.name, "pos_encoder.pe")) {
        *p.slot = convert_tensor(sinusoidal_position_encoding(p.shape.at(1), p.shape.at(2)), opt);
      } else if (p.name.rfind("temporal_transformer.proj_out.", 0) == 0) {
        *p.slot = at::zeros(p.shape, at::TensorOptions().dtype(opt.dtype).device(opt.device));
      } else {
        *p.slot = fresh.at(p.name);
      }
      ++found;
    }
    (void)path;
  });
  if (found == 0) throw Error("init_motion_modules: the UNet has no motion modules");
}

TensorMap motion_module_state(const nn::Module& unet) {
  TensorMap out;
  for (const nn::ParamInfo& p : unet.state_entries())
    if (contains(p.name, "motion_modules.")) out[p.name] = p.slot->detach();
  return out;
}

}  // namespace ma::train
