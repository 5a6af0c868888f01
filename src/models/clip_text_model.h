// CLIP's text transformer (transformers CLIPTextModel) as Stable Diffusion 1.5
// and MagicAnimate use it: prompt ids -> last_hidden_state, the UNet's
// cross-attention context. Parameter names are the checkpoint keys
// ("text_model.embeddings.token_embedding.weight",
// "text_model.encoder.layers.N.self_attn.q_proj.weight", ...).
//
// Numerics follow the original: pre-LayerNorm blocks, q scaled by
// head_dim^-0.5 before q k^T (bmm, never baddbmm), a causal mask filled with
// the dtype's lowest value, softmax in the weights' dtype, quick_gelu MLP.
#pragma once
#include <string>

#include "util/config.h"
#include "weights/tensor_map.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace ma {

struct ClipTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 2048;
  int64_t num_attention_heads = 8;
  int64_t num_hidden_layers = 12;
  int64_t max_position_embeddings = 77;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // or "gelu" (erf)

  // Defaults are transformers' CLIPTextConfig defaults. Throws ma::Error for a
  // wrongly typed key, a non-positive size, hidden_size not divisible by the
  // head count, or an activation we do not implement.
  static ClipTextConfig from_json(const Json& j);
  static ClipTextConfig from_file(const std::string& config_path);
};

namespace clip {

class Attention : public nn::Module {
 public:
  Attention(int64_t hidden, int64_t heads);
  // x: [B, S, hidden]; mask: additive [S, S] or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) const;
  nn::Linear *k_proj, *v_proj, *q_proj, *out_proj;
  int64_t heads;
};

class Mlp : public nn::Module {
 public:
  Mlp(int64_t hidden, int64_t intermediate, std::string activation);
  at::Tensor forward(const at::Tensor& x) const;
  nn::Linear *fc1, *fc2;
  std::string activation;
};

class EncoderLayer : public nn::Module {
 public:
  explicit EncoderLayer(const ClipTextConfig& c);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) const;
  Attention* self_attn;
  nn::LayerNorm* layer_norm1;
  Mlp* mlp;
  nn::LayerNorm* layer_norm2;
};

class Encoder : public nn::Module {
 public:
  explicit Encoder(const ClipTextConfig& c);
  nn::ModuleList<EncoderLayer>* layers;
};

class Embeddings : public nn::Module {
 public:
  explicit Embeddings(const ClipTextConfig& c);
  // ids [B, S] -> token + position embeddings [B, S, hidden]
  at::Tensor forward(const at::Tensor& ids) const;
  nn::Embedding* token_embedding;
  nn::Embedding* position_embedding;
  at::Tensor position_ids;  // int64 [1, max_positions] buffer, stored in checkpoints
};

class TextTransformer : public nn::Module {
 public:
  explicit TextTransformer(const ClipTextConfig& c);
  Embeddings* embeddings;
  Encoder* encoder;
  nn::LayerNorm* final_layer_norm;
};

}  // namespace clip

class ClipTextModel : public nn::Module {
 public:
  // Declares the module tree (shapes only, no weights allocated): enough for
  // nn::compare_shapes against a manifest or a weight file header.
  explicit ClipTextModel(const ClipTextConfig& config);
  explicit ClipTextModel(const std::string& config_path);

  // Loads every weight (any format load_weights reads), converted to `opt`.
  // A missing, unexpected or mis-shaped key throws ma::Error naming it.
  // text_model.embeddings.position_ids may be absent (newer transformers do
  // not save it): it is then 0..max_positions-1, its only value in practice.
  void load(const std::string& weights_path, const DeviceDtype& opt = {});
  void load(const TensorMap& state, const DeviceDtype& opt = {},
            const std::string& what = "text encoder weights");

  // input_ids int64 [B, S] (S <= max_position_embeddings) -> last_hidden_state
  // [B, S, hidden] in the weights' dtype. Throws ma::Error for a bad shape, an
  // id outside the vocabulary, or weights not loaded.
  at::Tensor forward(const at::Tensor& input_ids) const;

  const ClipTextConfig& config() const { return config_; }
  bool loaded() const { return loaded_; }

  clip::TextTransformer* text_model;

 private:
  ClipTextConfig config_;
  bool loaded_ = false;
};

}  // namespace ma
