#include "models/sd15_configs.h"

namespace ma {

Json sd15_unet_config() {
  return Json::parse(R"({
    "in_channels": 4, "out_channels": 4, "block_out_channels": [320, 640, 1280, 1280],
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 2, "attention_head_dim": 8, "cross_attention_dim": 768, "norm_num_groups": 32,
    "norm_eps": 1e-5, "flip_sin_to_cos": true, "freq_shift": 0, "downsample_padding": 1, "sample_size": 64})");
}

Json sd15_controlnet_config() {
  Json j = sd15_unet_config();
  j["conditioning_embedding_out_channels"] = {16, 32, 96, 256};
  j["controlnet_conditioning_channel_order"] = "rgb";
  return j;
}

Json sd15_vae_config() {
  return Json::parse(R"({
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
    "layers_per_block": 2, "norm_num_groups": 32, "act_fn": "silu", "sample_size": 256})");
}

Json sd15_text_encoder_config() {
  return Json::parse(R"({
    "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
    "num_hidden_layers": 12, "max_position_embeddings": 77, "layer_norm_eps": 1e-5, "hidden_act": "quick_gelu",
    "projection_dim": 768})");
}

}  // namespace ma
