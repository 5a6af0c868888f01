// A minimal module tree whose dotted parameter names are exactly the
// checkpoint keys ("down_blocks.0.resnets.1.conv1.weight"), so loading a
// state dict is a lookup. Shapes are declared at construction (from
// config.json), which lets us check a checkpoint or a manifest key for key
// without allocating any weights.
#pragma once
#include <ATen/ATen.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weights/tensor_map.h"

namespace ma::nn {

struct ParamInfo {
  std::string name;             // full dotted name
  std::vector<int64_t> shape;   // expected shape
  bool floating = true;         // converted to the model dtype on load
  at::Tensor* slot = nullptr;   // where the loaded tensor goes
  bool buffer = false;          // a buffer (pe, position_ids): loaded, never trained
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter and buffer below this module (the checkpoint's keys),
  // depth first, in declaration order: what loading and shape checks use.
  std::vector<ParamInfo> state_entries(const std::string& prefix = "") const;
  // The parameters only (buffers excluded), in the same order.
  std::vector<ParamInfo> parameters(const std::string& prefix = "") const;
  // The buffers only.
  std::vector<ParamInfo> buffers(const std::string& prefix = "") const;
  // The tensors of every loaded parameter and buffer, in state_entries' order.
  std::vector<at::Tensor> tensors() const;
  // Loaded parameters whose tensor requires grad (what an optimiser updates).
  std::vector<ParamInfo> trainable_parameters() const;

  // Visits every descendant module (including this one) with its dotted path.
  void visit(const std::function<void(const std::string&, Module&)>& fn, const std::string& prefix = "");

  // Total number of elements declared (parameters and buffers: the
  // checkpoint's count).
  int64_t num_parameters() const;

 protected:
  // Declares a tensor slot; `slot` must live as long as the module (a member).
  void register_parameter(const std::string& name, at::Tensor* slot, std::vector<int64_t> shape,
                          bool floating = true);
  // Declares a buffer: a checkpoint tensor loaded like a parameter (missing,
  // unexpected and mis-shaped keys are reported the same way) that is not
  // among parameters() and never requires grad.
  void register_buffer(const std::string& name, at::Tensor* slot, std::vector<int64_t> shape, bool floating = true);
  // Declares (and takes ownership of) a child module.
  template <class M>
  M* register_module(const std::string& name, std::unique_ptr<M> child) {
    M* raw = child.get();
    children_.emplace_back(name, std::move(child));
    return raw;
  }

 private:
  struct Slot {
    std::string name;
    std::vector<int64_t> shape;
    bool floating;
    at::Tensor* tensor;
    bool buffer;
  };
  enum class Which { kAll, kParameters, kBuffers };
  void collect(std::vector<ParamInfo>& out, const std::string& prefix, Which which) const;
  std::vector<Slot> params_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

// A list of children named "0", "1", ... like torch.nn.ModuleList.
template <class M>
class ModuleList : public Module {
 public:
  M* push_back(std::unique_ptr<M> m) {
    M* raw = register_module(std::to_string(items_.size()), std::move(m));
    items_.push_back(raw);
    return raw;
  }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  M& operator[](size_t i) const { return *items_[i]; }
  typename std::vector<M*>::const_iterator begin() const { return items_.begin(); }
  typename std::vector<M*>::const_iterator end() const { return items_.end(); }

 private:
  std::vector<M*> items_;
};

// What loading found, each problem by key name.
struct LoadReport {
  std::vector<std::string> missing;      // declared by the model, absent from the file
  std::vector<std::string> unexpected;   // in the file, not declared by the model
  std::vector<std::string> mismatched;   // "key: expected [a, b] got [c, d]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // One line per problem, prefixed with `what` (e.g. the file name).
  std::string describe(const std::string& what, size_t max_lines = 50) const;
};

struct LoadOptions {
  DeviceDtype tensor;            // dtype / device of the loaded weights
  bool ignore_unexpected = false;  // e.g. the 2D UNet file loaded into the 3D UNet
  bool allow_missing = false;      // e.g. motion-module keys filled by a second file
};

// Copies matching tensors into the module's slots (converted per options) and
// reports every missing, unexpected and mis-shaped key.
LoadReport load_state_dict(Module& m, const TensorMap& state, const LoadOptions& opt = {});

// Compares declared keys/shapes against a key->shape listing (manifest or a
// file header) without touching any tensor data.
LoadReport compare_shapes(const Module& m, const std::map<std::string, std::vector<int64_t>>& shapes);

// Sets requires_grad on every loaded parameter whose dotted name starts with
// one of `prefixes` ("" matches all; e.g. {"down_blocks.0.motion_modules."}
// or AnimateDiff's trainable_modules matched anywhere with match_anywhere).
// Buffers are never touched. Returns how many parameters were set; throws
// ma::Error if a matching parameter is not loaded yet.
size_t set_requires_grad(Module& m, const std::vector<std::string>& prefixes, bool requires_grad,
                         bool match_anywhere = false);

// Formats a shape as "[a, b, c]".
std::string shape_str(at::IntArrayRef shape);

// Throws ma::Error with `report.describe(what)` unless report.ok().
void require_ok(const LoadReport& report, const std::string& what);

}  // namespace ma::nn
