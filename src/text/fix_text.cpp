#include "text/fix_text.h"

#include "text/html_entities.h"
#include "text/unicode.h"

namespace ma::text {

namespace {

bool is_ascii_alnum(char32_t c) {
  return (c >= U'0' && c <= U'9') || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z');
}

// ftfy's HTML_ENTITY_RE `&#?[0-9A-Za-z]{1,24};`, each match decoded by
// _unescape_fixup: named references from the table, numeric ones as
// html.unescape does (kept as written if the result would contain ';').
std::u32string unescape_html(const std::u32string& s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    size_t body = i + 1 + ((i + 1 < s.size() && s[i + 1] == U'#') ? 1 : 0);
    size_t end = body;
    while (end < s.size() && is_ascii_alnum(s[end])) ++end;
    size_t len = end - body;
    if (len < 1 || len > 24 || end >= s.size() || s[end] != U';') {
      out.push_back(s[i++]);
      continue;
    }
    std::u32string match = s.substr(i, end + 1 - i);
    std::u32string replacement = match;
    if (const char* named = lookup_named_html_entity(u32_to_utf8(match))) {
      replacement = utf8_to_u32(named);
    } else if (body == i + 2) {
      std::u32string decoded;
      if (decode_numeric_html_entity(s.substr(body, len), decoded) && decoded.find(U';') == std::u32string::npos)
        replacement = decoded;
    }
    out += replacement;
    i = end + 1;
  }
  return out;
}

std::u32string fix_c1_controls(std::u32string s) {
  for (char32_t& c : s) c = windows1252_for_c1(c);
  return s;
}

std::u32string fix_latin_ligatures(const std::u32string& s) {
  std::u32string out;
  for (char32_t c : s) {
    switch (c) {
      case 0x0132: out += U"IJ"; break;
      case 0x0133: out += U"ij"; break;
      case 0x0149: out += U"\u02BCn"; break;
      case 0x01F1: out += U"DZ"; break;
      case 0x01F2: out += U"Dz"; break;
      case 0x01F3: out += U"dz"; break;
      case 0x01C4: out += U"D\u017D"; break;
      case 0x01C5: out += U"D\u017E"; break;
      case 0x01C6: out += U"d\u017E"; break;
      case 0x01C7: out += U"LJ"; break;
      case 0x01C8: out += U"Lj"; break;
      case 0x01C9: out += U"lj"; break;
      case 0x01CA: out += U"NJ"; break;
      case 0x01CB: out += U"Nj"; break;
      case 0x01CC: out += U"nj"; break;
      case 0xFB00: out += U"ff"; break;
      case 0xFB01: out += U"fi"; break;
      case 0xFB02: out += U"fl"; break;
      case 0xFB03: out += U"ffi"; break;
      case 0xFB04: out += U"ffl"; break;
      case 0xFB05: out += U"\u017Ft"; break;
      case 0xFB06: out += U"st"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Fullwidth / halfwidth forms (U+FF01..U+FFEF) become their NFKC form;
// U+3000 IDEOGRAPHIC SPACE becomes a space.
std::u32string fix_character_width(const std::u32string& s) {
  std::u32string out;
  for (char32_t c : s) {
    if (c == 0x3000) {
      out.push_back(U' ');
    } else if (c >= 0xFF01 && c < 0xFFF0) {
      out += normalize_nfkc(std::u32string(1, c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string uncurl_quotes(std::u32string s) {
  for (char32_t& c : s) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
    else if (c >= 0x201C && c <= 0x201F) c = U'"';
  }
  return s;
}

std::u32string fix_line_breaks(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c == U'\r' && i + 1 < s.size() && s[i + 1] == U'\n') continue;  // "\r\n" -> "\n"
    out.push_back((c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? U'\n' : c);
  }
  return out;
}

// ftfy's ANSI_RE "\033\[((?:\d|;)*)([a-zA-Z])" (Python's \d: any Nd digit).
std::u32string remove_terminal_escapes(const std::u32string& s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == U'[') {
      size_t j = i + 2;
      while (j < s.size() && (s[j] == U';' || is_decimal_digit(s[j]))) ++j;
      if (j < s.size() && ((s[j] >= U'a' && s[j] <= U'z') || (s[j] >= U'A' && s[j] <= U'Z'))) {
        i = j + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

std::u32string remove_control_chars(const std::u32string& s) {
  std::u32string out;
  for (char32_t c : s) {
    bool control = c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
                   c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    if (!control) out.push_back(c);
  }
  return out;
}

// ftfy.fix_and_explain on one line: every fixer until a fixed point.
std::u32string fix_segment(std::u32string text, bool unescape) {
  while (true) {
    std::u32string before = text;
    if (unescape) text = unescape_html(text);
    text = fix_c1_controls(std::move(text));
    text = fix_latin_ligatures(text);
    text = fix_character_width(text);
    text = uncurl_quotes(std::move(text));
    text = fix_line_breaks(text);
    text = remove_terminal_escapes(text);
    text = remove_control_chars(text);
    text = normalize_nfc(text);
    if (text == before) return text;
  }
}

}  // namespace

std::u32string fix_text(const std::u32string& text) {
  // ftfy fixes line by line (each segment keeps its '\n'); once a line
  // contains '<' the text looks like HTML and entities are left alone from
  // then on.
  std::u32string out;
  bool unescape = true;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find(U'\n', pos);
    size_t end = nl == std::u32string::npos ? text.size() : nl + 1;
    std::u32string segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != std::u32string::npos) unescape = false;
    out += fix_segment(std::move(segment), unescape);
    pos = end;
  }
  return out;
}

}  // namespace ma::text
