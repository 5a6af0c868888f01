// The text clean-up CLIP's tokenizer applies first: ftfy.fix_text with its
// default settings (the fixtures were produced with ftfy installed: "&amp;"
// in a prompt tokenizes as "&").
//
// Reproduced fixers, in ftfy's order and repeated until nothing changes:
// unescape_html ("auto": off from the first line containing '<'),
// fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes,
// fix_line_breaks, remove_terminal_escapes, remove_control_chars, NFC.
// Not reproduced: fix_encoding (ftfy's heuristic mojibake repair, e.g.
// "cafÃ©" -> "café"); such text is tokenized as written. fix_surrogates has
// nothing to do on text decoded from UTF-8.
#pragma once
#include <string>

namespace ma::text {

std::u32string fix_text(const std::u32string& text);

}  // namespace ma::text
