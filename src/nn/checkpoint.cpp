#include "nn/checkpoint.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard, at::GradMode (not via ATen.h on 2.x)
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "util/error.h"

namespace ma::nn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs besides the saved inputs: the body, and whether the
// last input is the anchor (not passed to the body).
struct CheckpointState : torch::CustomClassHolder {
  CheckpointFn fn;
  bool anchored = false;
};

struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  static variable_list forward(AutogradContext* ctx, at::TensorList inputs, c10::intrusive_ptr<CheckpointState> state) {
    // Runs with grad mode off (Function::apply sees to it): no activations kept.
    ctx->save_for_backward(inputs.vec());
    ctx->set_materialize_grads(false);  // outputs that get no gradient stay undefined
    const size_t n = inputs.size() - (state->anchored ? 1 : 0);
    std::vector<at::Tensor> args(inputs.begin(), inputs.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<at::Tensor> outputs = state->fn(args);
    ctx->saved_data["state"] = at::IValue::make_capsule(std::move(state));
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const c10::intrusive_ptr<torch::CustomClassHolder> held = ctx->saved_data["state"].toCapsule();
    const CheckpointState* state = static_cast<const CheckpointState*>(held.get());
    const size_t n = saved.size() - (state->anchored ? 1 : 0);
    // The inputs again, as fresh leaves: the inner backward stops at them and
    // leaves their gradients in .grad, which this function returns.
    std::vector<at::Tensor> args;
    args.reserve(n);
    for (size_t i = 0; i < n; ++i) args.push_back(saved[i].detach().requires_grad_(saved[i].requires_grad()));
    std::vector<at::Tensor> outputs;
    {
      at::AutoGradMode grad(true);
      outputs = state->fn(args);
    }
    if (outputs.size() != grad_outputs.size())
      throw Error("checkpoint: the block returned " + std::to_string(outputs.size()) + " tensors on recompute, " +
                  std::to_string(grad_outputs.size()) + " the first time");
    variable_list roots, grads;
    for (size_t i = 0; i < outputs.size(); ++i)
      if (grad_outputs[i].defined() && outputs[i].requires_grad()) roots.push_back(outputs[i]), grads.push_back(grad_outputs[i]);
    if (!roots.empty()) torch::autograd::backward(roots, grads);
    variable_list result;
    for (const at::Tensor& a : args) result.push_back(a.requires_grad() ? a.grad() : at::Tensor());
    if (state->anchored) result.emplace_back();
    result.emplace_back();  // the state argument
    return result;
  }
};

}  // namespace

std::vector<at::Tensor> checkpoint(const CheckpointFn& fn, const std::vector<at::Tensor>& inputs, bool needs_graph) {
  bool any_grad = false;
  for (const at::Tensor& t : inputs) {
    if (!t.defined()) throw Error("checkpoint: an input is undefined");
    any_grad = any_grad || t.requires_grad();
  }
  if (!at::GradMode::is_enabled() || (!any_grad && !needs_graph)) return fn(inputs);
  auto state = c10::make_intrusive<CheckpointState>();
  state->fn = fn;
  std::vector<at::Tensor> all = inputs;
  if (!any_grad) {
    // No input needs a gradient but the body's parameters do: an empty input
    // that requires grad makes the outputs part of the graph.
    state->anchored = true;
    all.push_back(at::empty({0}, inputs.empty() ? at::TensorOptions() : inputs[0].options().dtype(at::kFloat))
                      .requires_grad_(true));
  }
  return CheckpointFunction::apply(at::TensorList(all), std::move(state));
}

}  // namespace ma::nn
