// HTML character references as ftfy's unescape_html decodes them (CLIP's
// tokenizer runs ftfy.fix_text on every prompt).
#pragma once
#include <string>

namespace ma::text {

// `&name;` -> its UTF-8 text, or nullptr if `reference` is not a known named
// reference (HTML5 list; plus upper-cased spellings of lower-case names).
const char* lookup_named_html_entity(const std::string& reference);

// Python's html.unescape of a numeric reference body (the digits after "&#",
// e.g. "65", "x1F600"): Windows-1252 for 0x80..0x9F, U+FFFD for 0, surrogates
// and > 0x10FFFF, nothing for other invalid code points. Returns false when
// the body is not entirely a decimal or x/X-hexadecimal number.
bool decode_numeric_html_entity(const std::u32string& body, std::u32string& out);

// Windows-1252 ("sloppy": undefined bytes map to themselves) for a C1 control
// code point U+0080..U+009F; other code points are returned unchanged.
char32_t windows1252_for_c1(char32_t c);

}  // namespace ma::text
