#include "serve/web_assets.h"

#include <cstddef>
#include <fstream>
#include <sstream>

namespace ma::serve {
namespace {

struct EmbeddedWebFile {
  const char* name;
  const unsigned char* data;
  size_t size;
};

#ifdef MA_WEB_EMBEDDED
#include "web_embedded.inc"  // generated into the build folder by cmake/embed_files.cmake
#else
const EmbeddedWebFile kEmbeddedWebFiles[] = {{nullptr, nullptr, 0}};
#endif

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

bool web_assets_embedded() { return kEmbeddedWebFiles[0].name != nullptr; }

std::string content_type_for(const std::string& name) {
  if (ends_with(name, ".html")) return "text/html; charset=utf-8";
  if (ends_with(name, ".js")) return "text/javascript; charset=utf-8";
  if (ends_with(name, ".css")) return "text/css; charset=utf-8";
  if (ends_with(name, ".svg")) return "image/svg+xml";
  if (ends_with(name, ".png")) return "image/png";
  if (ends_with(name, ".ico")) return "image/x-icon";
  if (ends_with(name, ".json")) return "application/json";
  return "application/octet-stream";
}

WebAssets::WebAssets(const std::string& dir) : dir_(dir) {
  if (dir_.empty() && !web_assets_embedded()) dir_ = MA_WEB_DIR;
}

std::optional<WebFile> WebAssets::get(const std::string& url_path) const {
  std::string name = url_path;
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  if (name.empty()) name = "index.html";
  if (name[0] == '.' || name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
    return std::nullopt;
  if (dir_.empty()) {
    for (const EmbeddedWebFile* f = kEmbeddedWebFiles; f->name; ++f)
      if (name == f->name)
        return WebFile{std::string(reinterpret_cast<const char*>(f->data), f->size), content_type_for(name)};
    return std::nullopt;
  }
  std::ifstream in(dir_ + "/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream body;
  body << in.rdbuf();
  return WebFile{body.str(), content_type_for(name)};
}

std::string WebAssets::origin() const { return dir_.empty() ? "embedded in the binary" : dir_; }

}  // namespace ma::serve
