#include "serve/validation.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "diffusion/sampler.h"
#include "serve/request_error.h"
#include "util/error.h"

namespace ma::serve {

const std::vector<std::string> kFileFields = {"source", "motion"};
const std::vector<std::string> kParamFields = {"steps",   "scheduler", "guidance", "seed",
                                               "size",    "context",   "overlap",  "L",
                                               "prompt",  "extract_pose", "deep_cache"};

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

RequestError bad(const std::string& name, const std::string& rule, const std::string& got) {
  return RequestError(400, name + ": must be " + rule + ", got '" + display_name(got.substr(0, 40)) + "'");
}

int64_t parse_int(const std::string& name, const std::string& text, int64_t lo, int64_t hi) {
  const std::string rule = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  std::string t = trim(text);
  if (t.empty() || !(std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '-')) throw bad(name, rule, text);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno || *end != '\0' || v < lo || v > hi) throw bad(name, rule, text);
  return v;
}

uint64_t parse_seed(const std::string& text) {
  const std::string rule = "an integer from 0 to 18446744073709551615";
  std::string t = trim(text);
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t[0]))) throw bad("seed", rule, text);
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(t.c_str(), &end, 10);
  if (errno || *end != '\0') throw bad("seed", rule, text);
  return v;
}

bool parse_bool(const std::string& name, const std::string& text) {
  const std::string t = trim(text);
  if (t == "true" || t == "1" || t == "on") return true;
  if (t == "false" || t == "0" || t == "off" || t.empty()) return false;
  throw bad(name, "true or false", text);
}

double parse_number(const std::string& name, const std::string& text, double lo, double hi) {
  char range[64];
  std::snprintf(range, sizeof(range), "a number from %g to %g", lo, hi);
  std::string t = trim(text);
  if (t.empty()) throw bad(name, range, text);
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (errno || *end != '\0' || !std::isfinite(v) || v < lo || v > hi) throw bad(name, range, text);
  return v;
}

constexpr double kMaxGuidance = 50.0;
constexpr int64_t kMinSize = 64;
constexpr int64_t kMaxContext = kMaxContextFrames;  // the motion modules' position limit
constexpr size_t kMaxPromptBytes = 2000;

}  // namespace

JobParams parse_job_params(const FieldLookup& field, const JobParams& defaults, const Limits& limits) {
  JobParams p = defaults;
  if (auto v = field("steps")) p.steps = parse_int("steps", *v, 1, limits.max_steps);
  if (auto v = field("scheduler")) p.scheduler = trim(*v);
  if (auto v = field("guidance")) p.guidance = parse_number("guidance", *v, 0.0, kMaxGuidance);
  if (auto v = field("seed")) p.seed = parse_seed(*v);
  if (auto v = field("size")) p.set_size(parse_int("size", *v, kMinSize, limits.max_size));
  if (auto v = field("context")) p.context = parse_int("context", *v, 1, kMaxContext);
  if (auto v = field("overlap")) p.overlap = parse_int("overlap", *v, 0, kMaxContext - 1);
  if (auto v = field("L")) p.length_multiple = parse_int("L", *v, 1, kMaxLengthMultiple);
  if (auto v = field("prompt")) p.prompt = *v;
  if (auto v = field("deep_cache")) p.deep_cache = parse_int("deep_cache", *v, 1, kMaxDeepCacheInterval);
  if (auto v = field("extract_pose")) p.extract_pose = parse_bool("extract_pose", *v);
  check_job_params(p, limits);
  return p;
}

void check_job_params(const JobParams& p, const Limits& limits) {
  auto fail = [](const std::string& what) { throw RequestError(400, what); };
  if (p.steps < 1 || p.steps > limits.max_steps)
    fail("steps: must be from 1 to " + std::to_string(limits.max_steps) + ", got " + std::to_string(p.steps));
  if (!is_sampler_name(p.scheduler)) throw bad("scheduler", "one of " + sampler_name_list(), p.scheduler);
  if (!std::isfinite(p.guidance) || p.guidance < 0 || p.guidance > kMaxGuidance)
    fail("guidance: must be from 0 to 50, got " + std::to_string(p.guidance));
  // A square job is worded as its `size`; a non-square default (the models' native size) names each side.
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{p.width == p.height ? "size" : "width", p.width},
                                {p.width == p.height ? "size" : "height", p.height}})
    if (v < kMinSize || v > limits.max_size || v % 8 != 0)
      fail(std::string(name) + ": must be a multiple of 8 from " + std::to_string(kMinSize) + " to " +
           std::to_string(limits.max_size) + ", got " + std::to_string(v));
  if (p.context < 1 || p.context > kMaxContext)
    fail("context: must be from 1 to " + std::to_string(kMaxContext) + ", got " + std::to_string(p.context));
  if (p.overlap < 0 || p.overlap >= p.context)
    fail("overlap: must be from 0 to context - 1 (" + std::to_string(p.context - 1) + "), got " +
         std::to_string(p.overlap));
  if (p.length_multiple < 1 || p.length_multiple > kMaxLengthMultiple)
    fail("L: must be from 1 to " + std::to_string(kMaxLengthMultiple) + ", got " + std::to_string(p.length_multiple));
  if (p.prompt.size() > kMaxPromptBytes)
    fail("prompt: longer than " + std::to_string(kMaxPromptBytes) + " bytes");
  if (p.prompt.find('\0') != std::string::npos) fail("prompt: contains a NUL byte");
  if (!is_valid_utf8(p.prompt)) fail("prompt: not valid UTF-8 text");
  // The engine's own checks, for settings the ones above do not word.
  try {
    p.animation().validate();
  } catch (const Error& e) {
    fail(e.what());
  }
}

namespace {

// Length of the well-formed UTF-8 sequence at text[i], 0 if there is none.
size_t utf8_sequence(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  size_t n;
  uint32_t code;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) { n = 2; code = b & 0x1F; }
  else if ((b & 0xF0) == 0xE0) { n = 3; code = b & 0x0F; }
  else if ((b & 0xF8) == 0xF0) { n = 4; code = b & 0x07; }
  else return 0;
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMin[n] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;  // overlong, surrogate
  return n;
}

}  // namespace

bool is_valid_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence(text, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

std::string display_name(const std::string& filename) {
  std::string out;
  for (size_t i = 0; i < filename.size() && out.size() < 200;) {
    size_t n = utf8_sequence(filename, i);
    if (!n) {
      out += '?';
      ++i;
    } else if (n == 1 && (static_cast<unsigned char>(filename[i]) < 0x20 || filename[i] == 0x7F)) {
      out += '_';
      ++i;
    } else {
      out.append(filename, i, n);
      i += n;
    }
  }
  return out;
}

std::string upload_extension(const std::string& filename, const std::string& fallback) {
  size_t dot = filename.find_last_of('.');
  if (dot == std::string::npos) return fallback;
  std::string ext = filename.substr(dot + 1);
  if (ext.empty() || ext.size() > 5) return fallback;
  for (char& c : ext) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return fallback;
  }
  return ext;
}

}  // namespace ma::serve
