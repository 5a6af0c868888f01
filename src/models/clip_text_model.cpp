#include "models/clip_text_model.h"

#include <limits>

#include "weights/weights.h"
#include "nn/bf16_compute.h"
#include "util/error.h"

namespace ma {

namespace {

const char* const kPositionIdsKey = "text_model.embeddings.position_ids";

// torch.finfo(dtype).min, the value the original fills the causal mask with.
double lowest_value(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble: return std::numeric_limits<double>::lowest();
    case at::kFloat: return std::numeric_limits<float>::lowest();
    case at::kHalf: return -65504.0;
    case at::kBFloat16: return -3.3895313892515355e38;
    default: throw Error(std::string("text encoder: unsupported dtype ") + at::toString(dtype));
  }
}

// [S, S]: 0 on and below the diagonal, the dtype's lowest value above it
// (a position attends to itself and earlier positions only).
at::Tensor causal_mask(int64_t length, const at::TensorOptions& options) {
  return at::full({length, length}, lowest_value(options.dtype().toScalarType()), options).triu(1);
}

}  // namespace

ClipTextConfig ClipTextConfig::from_json(const Json& j) {
  ClipTextConfig c;
  c.vocab_size = cfg_int(j, "vocab_size", c.vocab_size);
  c.hidden_size = cfg_int(j, "hidden_size", c.hidden_size);
  c.intermediate_size = cfg_int(j, "intermediate_size", c.intermediate_size);
  c.num_attention_heads = cfg_int(j, "num_attention_heads", c.num_attention_heads);
  c.num_hidden_layers = cfg_int(j, "num_hidden_layers", c.num_hidden_layers);
  c.max_position_embeddings = cfg_int(j, "max_position_embeddings", c.max_position_embeddings);
  c.layer_norm_eps = cfg_double(j, "layer_norm_eps", c.layer_norm_eps);
  c.hidden_act = cfg_string(j, "hidden_act", c.hidden_act);
  for (auto [key, value] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                            {"hidden_size", c.hidden_size},
                            {"intermediate_size", c.intermediate_size},
                            {"num_attention_heads", c.num_attention_heads},
                            {"max_position_embeddings", c.max_position_embeddings}}) {
    if (value <= 0) throw Error(std::string("text encoder config: '") + key + "' must be positive");
  }
  if (c.num_hidden_layers < 0) throw Error("text encoder config: 'num_hidden_layers' must not be negative");
  if (c.hidden_size % c.num_attention_heads != 0)
    throw Error("text encoder config: hidden_size " + std::to_string(c.hidden_size) +
                " is not divisible by num_attention_heads " + std::to_string(c.num_attention_heads));
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu")
    throw Error("text encoder config: unsupported hidden_act '" + c.hidden_act + "'");
  return c;
}

ClipTextConfig ClipTextConfig::from_file(const std::string& config_path) {
  try {
    return from_json(read_json_file(config_path));
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.find(config_path) != std::string::npos) throw;
    throw Error(config_path + ": " + msg);
  }
}

namespace clip {

Attention::Attention(int64_t hidden, int64_t h) : heads(h) {
  k_proj = register_module("k_proj", std::make_unique<nn::Linear>(hidden, hidden));
  v_proj = register_module("v_proj", std::make_unique<nn::Linear>(hidden, hidden));
  q_proj = register_module("q_proj", std::make_unique<nn::Linear>(hidden, hidden));
  out_proj = register_module("out_proj", std::make_unique<nn::Linear>(hidden, hidden));
}

at::Tensor Attention::forward(const at::Tensor& x, const at::Tensor& mask) const {
  const int64_t batch = x.size(0), length = x.size(1), hidden = x.size(2), dim = hidden / heads;
  auto split_heads = [&](const at::Tensor& t) {  // [B, S, H*D] -> [B*H, S, D]
    return t.view({batch, length, heads, dim}).transpose(1, 2).reshape({batch * heads, length, dim});
  };
  // Scaling q first (not the scores) is the original's order of operations.
  at::Tensor q = split_heads(q_proj->forward(x) * (1.0 / std::sqrt(static_cast<double>(dim))));
  at::Tensor k = split_heads(k_proj->forward(x));
  at::Tensor v = split_heads(v_proj->forward(x));
  const bool up = nn::compute_in_fp32(q);  // bf16 without native kernels: in fp32
  if (up) q = nn::fp32(q), k = nn::fp32(k), v = nn::fp32(v);
  at::Tensor scores = at::bmm(q, k.transpose(1, 2));
  if (mask.defined()) scores = scores + mask;
  at::Tensor out = at::bmm(at::softmax(scores, -1), v);
  if (up) out = out.to(x.scalar_type());
  out = out.view({batch, heads, length, dim}).transpose(1, 2).reshape({batch, length, hidden});
  return out_proj->forward(out);
}

Mlp::Mlp(int64_t hidden, int64_t intermediate, std::string act) : activation(std::move(act)) {
  fc1 = register_module("fc1", std::make_unique<nn::Linear>(hidden, intermediate));
  fc2 = register_module("fc2", std::make_unique<nn::Linear>(intermediate, hidden));
}

at::Tensor Mlp::forward(const at::Tensor& x) const {
  at::Tensor h = fc1->forward(x);
  // quick_gelu: x * sigmoid(1.702 x), the activation CLIP was trained with.
  h = activation == "gelu" ? at::gelu(h) : h * at::sigmoid(h * 1.702);
  return fc2->forward(h);
}

EncoderLayer::EncoderLayer(const ClipTextConfig& c) {
  self_attn = register_module("self_attn", std::make_unique<Attention>(c.hidden_size, c.num_attention_heads));
  layer_norm1 = register_module("layer_norm1", std::make_unique<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
  mlp = register_module("mlp", std::make_unique<Mlp>(c.hidden_size, c.intermediate_size, c.hidden_act));
  layer_norm2 = register_module("layer_norm2", std::make_unique<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
}

at::Tensor EncoderLayer::forward(const at::Tensor& x, const at::Tensor& mask) const {
  at::Tensor h = x + self_attn->forward(layer_norm1->forward(x), mask);
  return h + mlp->forward(layer_norm2->forward(h));
}

Encoder::Encoder(const ClipTextConfig& c) {
  layers = register_module("layers", std::make_unique<nn::ModuleList<EncoderLayer>>());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(std::make_unique<EncoderLayer>(c));
}

Embeddings::Embeddings(const ClipTextConfig& c) {
  token_embedding = register_module("token_embedding", std::make_unique<nn::Embedding>(c.vocab_size, c.hidden_size));
  position_embedding = register_module(
      "position_embedding", std::make_unique<nn::Embedding>(c.max_position_embeddings, c.hidden_size));
  register_buffer("position_ids", &position_ids, {1, c.max_position_embeddings}, /*floating=*/false);
}

at::Tensor Embeddings::forward(const at::Tensor& ids) const {
  at::Tensor positions = position_ids.narrow(1, 0, ids.size(1)).to(at::kLong);
  return token_embedding->forward(ids) + position_embedding->forward(positions);
}

TextTransformer::TextTransformer(const ClipTextConfig& c) {
  embeddings = register_module("embeddings", std::make_unique<Embeddings>(c));
  encoder = register_module("encoder", std::make_unique<Encoder>(c));
  final_layer_norm =
      register_module("final_layer_norm", std::make_unique<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
}

}  // namespace clip

ClipTextModel::ClipTextModel(const ClipTextConfig& config) : config_(config) {
  text_model = register_module("text_model", std::make_unique<clip::TextTransformer>(config_));
}

ClipTextModel::ClipTextModel(const std::string& config_path) : ClipTextModel(ClipTextConfig::from_file(config_path)) {}

void ClipTextModel::load(const std::string& weights_path, const DeviceDtype& opt) {
  load(load_weights(weights_path, opt), opt, weights_path);
}

void ClipTextModel::load(const TensorMap& state, const DeviceDtype& opt, const std::string& what) {
  const TensorMap* source = &state;
  TensorMap with_positions;
  if (!state.count(kPositionIdsKey)) {
    with_positions = state;
    with_positions[kPositionIdsKey] =
        at::arange(config_.max_position_embeddings, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
    source = &with_positions;
  }
  nn::LoadOptions lo;
  lo.tensor = opt;
  nn::require_ok(nn::load_state_dict(*this, *source, lo), what);
  loaded_ = true;
}

at::Tensor ClipTextModel::forward(const at::Tensor& input_ids) const {
  if (!loaded_) throw Error("text encoder: weights not loaded");
  if (!input_ids.defined() || input_ids.dim() != 2 || input_ids.size(0) < 1 || input_ids.size(1) < 1)
    throw Error("text encoder: input_ids must be [batch, length], got " +
                (input_ids.defined() ? nn::shape_str(input_ids.sizes()) : std::string("nothing")));
  if (at::isFloatingType(input_ids.scalar_type()) || input_ids.scalar_type() == at::kBool)
    throw Error("text encoder: input_ids must be integers");
  const int64_t length = input_ids.size(1);
  if (length > config_.max_position_embeddings)
    throw Error("text encoder: " + std::to_string(length) + " tokens exceed max_position_embeddings " +
                std::to_string(config_.max_position_embeddings));
  const int64_t lo = input_ids.min().item<int64_t>(), hi = input_ids.max().item<int64_t>();
  if (lo < 0 || hi >= config_.vocab_size)
    throw Error("text encoder: token id " + std::to_string(lo < 0 ? lo : hi) + " outside the vocabulary of " +
                std::to_string(config_.vocab_size));

  const at::Tensor& weight = text_model->embeddings->token_embedding->weight;
  at::Tensor ids = input_ids.to(weight.device(), at::kLong);
  at::Tensor h = text_model->embeddings->forward(ids);
  at::Tensor mask = causal_mask(length, weight.options());
  for (const auto* layer : *text_model->encoder->layers) h = layer->forward(h, mask);
  return text_model->final_layer_norm->forward(h);
}

}  // namespace ma
