#include "nn/module.h"

#include <set>
#include <sstream>

#include "util/error.h"

namespace ma::nn {

void Module::register_parameter(const std::string& name, at::Tensor* slot, std::vector<int64_t> shape,
                                bool floating) {
  params_.push_back({name, std::move(shape), floating, slot, false});
}

void Module::register_buffer(const std::string& name, at::Tensor* slot, std::vector<int64_t> shape, bool floating) {
  params_.push_back({name, std::move(shape), floating, slot, true});
}

void Module::collect(std::vector<ParamInfo>& out, const std::string& prefix, Which which) const {
  for (const auto& p : params_)
    if (which == Which::kAll || (which == Which::kBuffers) == p.buffer)
      out.push_back({prefix + p.name, p.shape, p.floating, p.tensor, p.buffer});
  for (const auto& [name, child] : children_) child->collect(out, prefix + name + ".", which);
}

std::vector<ParamInfo> Module::state_entries(const std::string& prefix) const {
  std::vector<ParamInfo> out;
  collect(out, prefix, Which::kAll);
  return out;
}

std::vector<ParamInfo> Module::parameters(const std::string& prefix) const {
  std::vector<ParamInfo> out;
  collect(out, prefix, Which::kParameters);
  return out;
}

std::vector<ParamInfo> Module::buffers(const std::string& prefix) const {
  std::vector<ParamInfo> out;
  collect(out, prefix, Which::kBuffers);
  return out;
}

std::vector<at::Tensor> Module::tensors() const {
  std::vector<at::Tensor> out;
  for (const auto& p : state_entries())
    if (p.slot->defined()) out.push_back(*p.slot);
  return out;
}

std::vector<ParamInfo> Module::trainable_parameters() const {
  std::vector<ParamInfo> out;
  for (auto& p : parameters())
    if (p.slot->defined() && p.slot->requires_grad()) out.push_back(p);
  return out;
}

size_t set_requires_grad(Module& m, const std::vector<std::string>& prefixes, bool requires_grad,
                         bool match_anywhere) {
  size_t n = 0;
  for (const auto& p : m.parameters()) {
    bool match = false;
    for (const auto& prefix : prefixes)
      match = match || (match_anywhere ? p.name.find(prefix) != std::string::npos : p.name.rfind(prefix, 0) == 0);
    if (!match) continue;
    if (!p.slot->defined()) throw Error("set_requires_grad: parameter " + p.name + " is not loaded");
    p.slot->requires_grad_(requires_grad);
    ++n;
  }
  return n;
}

void Module::visit(const std::function<void(const std::string&, Module&)>& fn, const std::string& prefix) {
  fn(prefix, *this);
  for (auto& [name, child] : children_) child->visit(fn, prefix.empty() ? name : prefix + "." + name);
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : state_entries()) {
    int64_t e = 1;
    for (auto s : p.shape) e *= s;
    n += e;
  }
  return n;
}

std::string shape_str(at::IntArrayRef shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

std::string LoadReport::describe(const std::string& what, size_t max_lines) const {
  std::ostringstream os;
  size_t lines = 0;
  auto emit = [&](const std::string& kind, const std::vector<std::string>& keys) {
    for (const auto& k : keys) {
      if (lines++ < max_lines) os << what << ": " << kind << " " << k << "\n";
    }
  };
  emit("missing key", missing);
  emit("mis-shaped key", mismatched);
  emit("unexpected key", unexpected);
  if (lines > max_lines) os << what << ": ... and " << (lines - max_lines) << " more problems\n";
  std::string s = os.str();
  if (!s.empty()) s.pop_back();
  return s;
}

void require_ok(const LoadReport& report, const std::string& what) {
  if (report.ok()) return;
  // One line: every problem by key, separated by "; " (at most 20 listed).
  std::string text = report.describe(what, 20);
  std::string line;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(start, end - start);
    if (!line.empty() && part.rfind(what + ": ", 0) == 0) part = part.substr(what.size() + 2);
    line += (line.empty() ? "" : "; ") + part;
    start = end + 1;
  }
  throw Error(line);
}

LoadReport compare_shapes(const Module& m, const std::map<std::string, std::vector<int64_t>>& shapes) {
  LoadReport r;
  std::set<std::string> declared;
  for (const auto& p : m.state_entries()) {
    declared.insert(p.name);
    auto it = shapes.find(p.name);
    if (it == shapes.end()) {
      r.missing.push_back(p.name);
    } else if (it->second != p.shape) {
      r.mismatched.push_back(p.name + ": expected " + shape_str(p.shape) + " got " + shape_str(it->second));
    }
  }
  for (const auto& [k, s] : shapes)
    if (!declared.count(k)) r.unexpected.push_back(k);
  return r;
}

LoadReport load_state_dict(Module& m, const TensorMap& state, const LoadOptions& opt) {
  LoadReport r;
  std::set<std::string> declared;
  for (const auto& p : m.state_entries()) {
    declared.insert(p.name);
    auto it = state.find(p.name);
    if (it == state.end()) {
      if (!opt.allow_missing) r.missing.push_back(p.name);
      continue;
    }
    const at::Tensor& t = it->second;
    if (t.sizes().vec() != p.shape) {
      r.mismatched.push_back(p.name + ": expected " + shape_str(p.shape) + " got " + shape_str(t.sizes()));
      continue;
    }
    *p.slot = p.floating ? t.to(opt.tensor.device, opt.tensor.dtype) : t.to(opt.tensor.device);
  }
  if (!opt.ignore_unexpected)
    for (const auto& [k, t] : state)
      if (!declared.count(k)) r.unexpected.push_back(k);
  return r;
}

}  // namespace ma::nn
