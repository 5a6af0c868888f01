// diffusers / transformers config.json files: every model size comes from here.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ma {

using Json = nlohmann::json;

// Reads and parses a JSON file; ma::Error names the file on any failure.
Json read_json_file(const std::string& path);

// Typed getters with a default and an error naming the key when the type is wrong.
int64_t cfg_int(const Json& j, const std::string& key, int64_t def);
double cfg_double(const Json& j, const std::string& key, double def);
bool cfg_bool(const Json& j, const std::string& key, bool def);
std::string cfg_string(const Json& j, const std::string& key, const std::string& def);
std::vector<int64_t> cfg_ints(const Json& j, const std::string& key, const std::vector<int64_t>& def);
std::vector<std::string> cfg_strings(const Json& j, const std::string& key, const std::vector<std::string>& def);

}  // namespace ma
