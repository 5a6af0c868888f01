// The browser page (web/*) the server hands out at "/". Built with
// cmake/web_assets.cmake, the files are embedded in the binary; otherwise (or
// with `serve --web DIR`, handy while editing the page) they are read from a
// folder at each request: DIR, else MA_WEB_DIR (the source tree's web/).
#pragma once
#include <optional>
#include <string>

namespace ma::serve {

struct WebFile {
  std::string body;
  std::string content_type;
};

class WebAssets {
 public:
  // dir empty: the embedded copy, else MA_WEB_DIR.
  explicit WebAssets(const std::string& dir = "");
  // "/" is index.html; names with a '/' or starting with '.' are never served.
  std::optional<WebFile> get(const std::string& url_path) const;
  // Where the files come from, for the start-up message.
  std::string origin() const;

 private:
  std::string dir_;  // empty: embedded
};

bool web_assets_embedded();
std::string content_type_for(const std::string& filename);

}  // namespace ma::serve
