#include "text/html_entities.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace ma::text {

namespace {

struct NamedEntity {
  const char* name;
  const char* utf8;
};

const NamedEntity kNamedEntities[] = {
#include "text/html_entities_table.inc"
};

bool is_noncharacter_or_control(uint64_t cp) {
  if ((cp >= 0x1 && cp <= 0x8) || cp == 0xB || (cp >= 0xE && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F)) return true;
  if (cp >= 0xFDD0 && cp <= 0xFDEF) return true;
  return (cp & 0xFFFE) == 0xFFFE;  // U+xFFFE / U+xFFFF of every plane
}

}  // namespace

const char* lookup_named_html_entity(const std::string& reference) {
  auto less = [](const NamedEntity& e, const std::string& key) { return std::strcmp(e.name, key.c_str()) < 0; };
  const NamedEntity* end = std::end(kNamedEntities);
  const NamedEntity* it = std::lower_bound(std::begin(kNamedEntities), end, reference, less);
  if (it == end || reference != it->name) return nullptr;
  return it->utf8;
}

char32_t windows1252_for_c1(char32_t c) {
  static const char32_t kC1[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  return (c >= 0x80 && c <= 0x9F) ? kC1[c - 0x80] : c;
}

bool decode_numeric_html_entity(const std::u32string& body, std::u32string& out) {
  bool hex = !body.empty() && (body[0] == U'x' || body[0] == U'X');
  size_t start = hex ? 1 : 0;
  if (body.size() <= start) return false;
  // Saturates instead of overflowing: anything past 0x10FFFF decodes the same.
  uint64_t value = 0;
  for (size_t i = start; i < body.size(); ++i) {
    char32_t c = body[i];
    int digit;
    if (c >= U'0' && c <= U'9') {
      digit = static_cast<int>(c - U'0');
    } else if (hex && c >= U'a' && c <= U'f') {
      digit = static_cast<int>(c - U'a') + 10;
    } else if (hex && c >= U'A' && c <= U'F') {
      digit = static_cast<int>(c - U'A') + 10;
    } else {
      return false;
    }
    value = std::min<uint64_t>(value * (hex ? 16 : 10) + digit, 0x7FFFFFFF);
  }
  // html.unescape: 0 and the C1 range are "invalid character references" with fixed replacements.
  char32_t decoded;
  if (value == 0) {
    decoded = 0xFFFD;
  } else if (value >= 0x80 && value <= 0x9F) {
    decoded = windows1252_for_c1(static_cast<char32_t>(value));
  } else if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) {
    decoded = 0xFFFD;
  } else if (is_noncharacter_or_control(value)) {
    decoded = 0;  // dropped
  } else {
    decoded = static_cast<char32_t>(value);
  }
  out.clear();
  if (decoded != 0) out.push_back(decoded);
  return true;
}

}  // namespace ma::text
