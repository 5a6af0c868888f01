#include "util/config.h"

#include <fstream>
#include <sstream>

#include "util/error.h"

namespace ma {

Json read_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return Json::parse(ss.str());
  } catch (const std::exception& e) {
    throw Error(path + ": invalid JSON (" + e.what() + ")");
  }
}

namespace {
template <class T, class Check>
T get_or(const Json& j, const std::string& key, T def, Check ok, const char* kind) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return def;
  if (!ok(j[key])) throw Error("config: '" + key + "' should be " + kind);
  return j[key].get<T>();
}
}  // namespace

int64_t cfg_int(const Json& j, const std::string& key, int64_t def) {
  return get_or<int64_t>(j, key, def, [](const Json& v) { return v.is_number_integer(); }, "an integer");
}
double cfg_double(const Json& j, const std::string& key, double def) {
  return get_or<double>(j, key, def, [](const Json& v) { return v.is_number(); }, "a number");
}
bool cfg_bool(const Json& j, const std::string& key, bool def) {
  return get_or<bool>(j, key, def, [](const Json& v) { return v.is_boolean(); }, "true or false");
}
std::string cfg_string(const Json& j, const std::string& key, const std::string& def) {
  return get_or<std::string>(j, key, def, [](const Json& v) { return v.is_string(); }, "a string");
}
std::vector<int64_t> cfg_ints(const Json& j, const std::string& key, const std::vector<int64_t>& def) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return def;
  const Json& v = j[key];
  if (v.is_number_integer()) return std::vector<int64_t>(def.empty() ? 1 : def.size(), v.get<int64_t>());
  if (!v.is_array()) throw Error("config: '" + key + "' should be a list of integers");
  std::vector<int64_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer()) throw Error("config: '" + key + "' should be a list of integers");
    out.push_back(e.get<int64_t>());
  }
  return out;
}
std::vector<std::string> cfg_strings(const Json& j, const std::string& key, const std::vector<std::string>& def) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return def;
  const Json& v = j[key];
  if (!v.is_array()) throw Error("config: '" + key + "' should be a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) throw Error("config: '" + key + "' should be a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace ma
