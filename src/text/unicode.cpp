#include "text/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "util/error.h"

namespace ma::text {

namespace {

icu::UnicodeString to_icu(const std::u32string& s) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
}

std::u32string from_icu(const icu::UnicodeString& u) {
  std::u32string out(static_cast<size_t>(u.countChar32()), U'\0');
  UErrorCode status = U_ZERO_ERROR;
  int32_t n = u.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), status);
  if (U_FAILURE(status)) throw Error(std::string("unicode conversion failed: ") + u_errorName(status));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::u32string normalize(const icu::Normalizer2* (*instance)(UErrorCode&), const std::u32string& s, const char* what) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* norm = instance(status);
  if (U_FAILURE(status)) throw Error(std::string("ICU ") + what + " normalizer unavailable: " + u_errorName(status));
  icu::UnicodeString out = norm->normalize(to_icu(s), status);
  if (U_FAILURE(status)) throw Error(std::string("ICU ") + what + " normalization failed: " + u_errorName(status));
  return from_icu(out);
}

bool in_category(char32_t c, uint32_t mask) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & mask) != 0; }

}  // namespace

std::u32string utf8_to_u32(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cb & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF, like Python's decoder.
    static const char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) ok = false;
    if (!ok) {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string u32_to_utf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool is_letter(char32_t c) { return in_category(c, U_GC_L_MASK); }
bool is_number(char32_t c) { return in_category(c, U_GC_N_MASK); }
bool is_decimal_digit(char32_t c) { return in_category(c, U_GC_ND_MASK); }
bool is_white_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0; }
char32_t fold_case(char32_t c) {
  return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
}

std::array<char32_t, 5> case_variants(char32_t c) {
  const auto u = static_cast<UChar32>(c);
  return {c, fold_case(c), static_cast<char32_t>(u_toupper(u)), static_cast<char32_t>(u_tolower(u)),
          static_cast<char32_t>(u_totitle(u))};
}

std::u32string normalize_nfc(const std::u32string& s) { return normalize(&icu::Normalizer2::getNFCInstance, s, "NFC"); }
std::u32string normalize_nfkc(const std::u32string& s) {
  return normalize(&icu::Normalizer2::getNFKCInstance, s, "NFKC");
}

std::u32string to_lower(const std::u32string& s) {
  icu::UnicodeString u = to_icu(s);
  u.toLower(icu::Locale::getRoot());
  return from_icu(u);
}

}  // namespace ma::text
