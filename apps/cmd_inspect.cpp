// `magicanimate inspect FILE [--json]`: lists every tensor of a weight file
// (name, dtype, shape) as the loader sees it, the total element count and the
// file's metadata. Safetensors files are read header-only.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.h"
#include "weights/safetensors.h"
#include "weights/weights.h"
#include "util/error.h"

namespace ma::app {
namespace {

struct TensorRow {
  std::string name, dtype;
  std::vector<int64_t> shape;
};

struct Inventory {
  std::string format;
  std::vector<TensorRow> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Same dtype spelling for both formats, so listings compare across them.
std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return "F64";
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: return c10::toString(t);
  }
}

Inventory take_inventory(const std::string& path) {
  Inventory inv;
  if (ends_with(path, ".safetensors")) {
    inv.format = "safetensors";
    SafetensorsHeader h = read_safetensors_header(path);
    for (auto& e : h.entries) inv.tensors.push_back({e.name, e.dtype, e.shape});
    inv.metadata = h.metadata;
    return inv;
  }
  inv.format = "torch-zip-pickle";
  for (const auto& [name, t] : load_weights_as_stored(path))
    inv.tensors.push_back({name, dtype_name(t.scalar_type()), t.sizes().vec()});
  return inv;
}

uint64_t element_count(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

void print_json(const std::string& path, const Inventory& inv, uint64_t total) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : inv.tensors) tensors.push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}});
  nlohmann::json out = {{"file", path},
                        {"format", inv.format},
                        {"tensors", tensors},
                        {"tensor_count", inv.tensors.size()},
                        {"parameter_count", total},
                        {"metadata", inv.metadata}};
  // Names come from the file: replace invalid UTF-8 rather than failing to print.
  std::cout << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void print_table(const std::string& path, const Inventory& inv, uint64_t total) {
  size_t width = 4;
  for (const auto& t : inv.tensors) width = std::max(width, t.name.size());
  std::cout << path << " (" << inv.format << ")\n";
  std::cout << std::left << std::setw(static_cast<int>(width)) << "name" << "  " << std::setw(5) << "dtype"
            << "  shape\n";
  for (const auto& t : inv.tensors)
    std::cout << std::setw(static_cast<int>(width)) << t.name << "  " << std::setw(5) << t.dtype << "  "
              << shape_text(t.shape) << "\n";
  std::cout << inv.tensors.size() << " tensors, " << total << " parameters\n";
  if (!inv.metadata.empty()) {
    std::cout << "metadata:\n";
    for (const auto& [k, v] : inv.metadata) std::cout << "  " << k << ": " << v << "\n";
  }
}

}  // namespace

Action add_inspect_command(CLI::App& app) {
  struct Options {
    std::string file;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "inspect", "List every tensor (name, dtype, shape), the parameter count and the metadata of a weight file "
                 "(.safetensors, or a torch.save .bin/.ckpt/.pt/.pth)");
  sub->add_option("file", opt->file, "Weight file to inspect")->required();
  sub->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  return [opt]() -> int {
    Inventory inv = take_inventory(opt->file);
    uint64_t total = 0;
    for (const auto& t : inv.tensors) total += element_count(t.shape);
    if (opt->json) print_json(opt->file, inv, total);
    else print_table(opt->file, inv, total);
    return 0;
  };
}

}  // namespace ma::app
