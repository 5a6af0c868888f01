// The Unicode operations CLIP's tokenizer needs (Python str semantics),
// backed by ICU: UTF-8 <-> code points, character classes, NFC/NFKC, lower-casing.
#pragma once
#include <array>
#include <string>

namespace ma::text {

// Decodes UTF-8; every byte of an invalid or truncated sequence becomes U+FFFD
// (a prompt is never rejected for its encoding).
std::u32string utf8_to_u32(const std::string& s);
std::string u32_to_utf8(const std::u32string& s);

bool is_letter(char32_t c);       // \p{L}
bool is_number(char32_t c);       // \p{N}
bool is_decimal_digit(char32_t c);  // \p{Nd} (Python re's \d)
bool is_white_space(char32_t c);  // White_Space property (the regex module's \s)
// Simple case folding, as a case-insensitive regex compares literals.
char32_t fold_case(char32_t c);
// c and its simple case mappings: folded, upper, lower and title case.
std::array<char32_t, 5> case_variants(char32_t c);

std::u32string normalize_nfc(const std::u32string& s);
std::u32string normalize_nfkc(const std::u32string& s);
// Full lower-case mapping in the root locale (Python's str.lower: "İ" -> "i̇",
// final sigma).
std::u32string to_lower(const std::u32string& s);

}  // namespace ma::text
