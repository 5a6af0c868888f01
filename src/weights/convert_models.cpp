#include "weights/convert_models.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "util/error.h"
#include "weights/safetensors.h"
#include "weights/torch_pickle_write.h"
#include "weights/weights.h"

namespace ma {
namespace {

namespace fs = std::filesystem;

TensorMap converted(const TensorMap& in, at::ScalarType dtype) {
  TensorMap out;
  for (const auto& [key, t] : in) out[key] = t.is_floating_point() ? t.to(dtype).contiguous() : t.contiguous();
  return out;
}

// torch pickles: the original's motion-module .ckpt is {"state_dict": {...}}, the
// transformers/diffusers .bin files are the plain dict.
std::string pickle_wrap(const fs::path& p) { return p.extension() == ".ckpt" ? "state_dict" : ""; }

}  // namespace

ConvertReport convert_models_folder(const std::string& in_dir, const std::string& out_dir, at::ScalarType dtype,
                                    const std::function<void(const std::string&)>& on_file) {
  const fs::path in(in_dir), out(out_dir);
  std::error_code ec;
  if (!fs::is_directory(in, ec)) throw Error("convert: " + in.string() + " is not a folder");
  if (fs::exists(out, ec)) throw Error("convert: " + out.string() + " already exists (choose a new folder)");
  const fs::path tmp = out.string() + ".partial";
  fs::remove_all(tmp, ec);
  ConvertReport report;
  try {
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it) {
      const fs::path rel = it->path().lexically_relative(in);  // (relative() would resolve the links)
      if (it->is_directory() && *rel.begin() == "trainer_state") {
        it.disable_recursion_pending();  // the optimiser's state is not part of a models folder
        continue;
      }
      if (it->is_regular_file()) files.push_back(rel);
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& rel : files) {
      const fs::path src = in / rel, dst = tmp / rel;
      fs::create_directories(dst.parent_path());
      report.bytes_in += static_cast<int64_t>(fs::file_size(src));
      const std::string ext = rel.extension().string();
      if (ext == ".safetensors") {
        save_safetensors(dst.string(), converted(load_weights_as_stored(src.string()), dtype));
        ++report.weight_files;
      } else if (is_weight_file(src.string())) {
        save_torch_state_dict(dst.string(), converted(load_weights_as_stored(src.string()), dtype), pickle_wrap(rel));
        ++report.weight_files;
      } else {
        fs::copy_file(src, dst);
        ++report.other_files;
      }
      report.bytes_out += static_cast<int64_t>(fs::file_size(dst));
      if (on_file) on_file(rel.string());
    }
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::rename(tmp, out);
  return report;
}

}  // namespace ma
