#include "text/clip_tokenizer.h"

#include <climits>
#include <fstream>
#include <sstream>

#include "util/config.h"
#include "text/fix_text.h"
#include "text/unicode.h"
#include "util/error.h"

namespace ma {

namespace {

// The original reads only the first 49152 - 256 - 2 merges (CLIP's vocabulary:
// 256 bytes, their "</w>" forms, the merges and two special tokens).
constexpr size_t kMaxMerges = 49152 - 256 - 2;

// CLIP's pattern hard-codes these two (the rest of the special tokens only
// come from the tokenizer config).
const std::u32string kPatternStart = U"<|startoftext|>";
const std::u32string kPatternEnd = U"<|endoftext|>";

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

// A special token in tokenizer_config.json / special_tokens_map.json is a
// string or an AddedToken object {"content": ...}.
void read_special_token(const Json& j, const std::string& key, const std::string& file, std::string& token) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return;
  const Json& v = j[key];
  if (v.is_string()) {
    token = v.get<std::string>();
  } else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    token = v["content"].get<std::string>();
  } else {
    throw Error(file + ": '" + key + "' should be a string or an object with \"content\"");
  }
}

// GPT-2's reversible byte -> printable character map: printable Latin-1
// bytes stand for themselves, the others take code points from U+0100 on.
std::vector<std::string> build_byte_symbols() {
  std::vector<std::string> symbols(256);
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
    symbols[b] = text::u32_to_utf8(std::u32string(1, cp));
  }
  return symbols;
}

// Python's whitespace_clean: runs of white space -> one space, then strip.
std::u32string collapse_white_space(const std::u32string& s) {
  std::u32string out;
  bool pending_space = false;
  for (char32_t c : s) {
    if (text::is_white_space(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out.push_back(U' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Case-insensitive literal match at `pos` (the pattern is compiled with IGNORECASE).
bool matches_literal(const std::u32string& s, size_t pos, const std::u32string& literal) {
  if (pos + literal.size() > s.size()) return false;
  for (size_t k = 0; k < literal.size(); ++k)
    if (text::fold_case(s[pos + k]) != text::fold_case(literal[k])) return false;
  return true;
}

// The pattern's last class [^\s\p{L}\p{N}]. Compiled with IGNORECASE, the
// regex module matches a negated class only if no case variant of the
// character is in it: U+0345 (which folds to a Greek iota) matches no
// alternative at all and is dropped, like white space.
bool is_other_symbol(char32_t c) {
  for (char32_t v : text::case_variants(c))
    if (text::is_white_space(v) || text::is_letter(v) || text::is_number(v)) return false;
  return true;
}

}  // namespace

ClipTokenizer::ClipTokenizer(const std::string& dir) : byte_symbol_(build_byte_symbols()) {
  const std::string vocab_path = dir + "/vocab.json";
  const std::string merges_path = dir + "/merges.txt";
  if (!file_exists(vocab_path)) throw Error("tokenizer: cannot open " + vocab_path);
  if (!file_exists(merges_path)) throw Error("tokenizer: cannot open " + merges_path);

  Json vocab = read_json_file(vocab_path);
  if (!vocab.is_object() || vocab.empty()) throw Error(vocab_path + ": expected a non-empty object token -> id");
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) throw Error(vocab_path + ": id of token '" + token + "' is not an integer");
    vocab_[token] = id.get<int64_t>();
  }

  std::ifstream merges_file(merges_path, std::ios::binary);
  std::stringstream merges_text;
  merges_text << merges_file.rdbuf();
  std::string line;
  size_t line_no = 0, rank = 0;
  // The first line is the "#version" header; ranks count every later line.
  while (std::getline(merges_text, line) && rank < kMaxMerges) {
    if (line_no++ == 0) continue;
    std::istringstream parts(line);
    std::string first, second, extra;
    if (parts >> first >> second && !(parts >> extra)) merge_ranks_[first + " " + second] = static_cast<int>(rank);
    ++rank;
  }

  bos_token_ = "<|startoftext|>";
  eos_token_ = pad_token_ = unk_token_ = "<|endoftext|>";
  // special_tokens_map.json overrides tokenizer_config.json, as in transformers.
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string path = dir + "/" + name;
    if (!file_exists(path)) continue;
    Json j = read_json_file(path);
    read_special_token(j, "bos_token", path, bos_token_);
    read_special_token(j, "eos_token", path, eos_token_);
    read_special_token(j, "pad_token", path, pad_token_);
    read_special_token(j, "unk_token", path, unk_token_);
    if (std::string(name) == "tokenizer_config.json") {
      try {
        model_max_length_ = cfg_int(j, "model_max_length", model_max_length_);
      } catch (const Error& e) {
        throw Error(path + ": " + e.what());
      }
    }
  }
  auto special_id = [&](const std::string& token, const char* role) {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) throw Error(vocab_path + ": " + role + " token '" + token + "' is not in the vocabulary");
    return it->second;
  };
  bos_id_ = special_id(bos_token_, "bos");
  eos_id_ = special_id(eos_token_, "eos");
  pad_id_ = special_id(pad_token_, "pad");
  unk_id_ = special_id(unk_token_, "unk");
}

int64_t ClipTokenizer::id_of(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? unk_id_ : it->second;
}

std::vector<std::string> ClipTokenizer::pre_tokenize(const std::u32string& s) const {
  std::vector<std::string> pieces;
  static const std::u32string kContractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    // Alternatives in the pattern's order; the first that matches wins.
    for (const std::u32string* lit : {&kPatternStart, &kPatternEnd}) {
      if (!len && matches_literal(s, i, *lit)) len = lit->size();
    }
    for (const auto& lit : kContractions) {
      if (!len && matches_literal(s, i, lit)) len = lit.size();
    }
    if (!len && text::is_letter(s[i])) {
      while (i + len < s.size() && text::is_letter(s[i + len])) ++len;
    }
    if (!len && text::is_number(s[i])) len = 1;
    if (!len && is_other_symbol(s[i])) {
      while (i + len < s.size() && is_other_symbol(s[i + len])) ++len;
    }
    if (!len) {  // white space (and U+0345) separates pieces and is dropped
      ++i;
      continue;
    }
    pieces.push_back(text::u32_to_utf8(s.substr(i, len)));
    i += len;
  }
  return pieces;
}

void ClipTokenizer::bpe_ids(const std::string& piece, std::vector<int64_t>& ids) const {
  // The original maps these two straight to themselves (no "</w>").
  if (piece == text::u32_to_utf8(kPatternStart) || piece == text::u32_to_utf8(kPatternEnd)) {
    ids.push_back(id_of(piece));
    return;
  }
  std::vector<std::string> word;
  for (unsigned char b : piece) word.push_back(byte_symbol_[b]);
  if (word.empty()) return;
  word.back() += "</w>";

  while (word.size() > 1) {
    int best_rank = INT_MAX;
    size_t best = 0;
    for (size_t k = 0; k + 1 < word.size(); ++k) {
      auto it = merge_ranks_.find(word[k] + " " + word[k + 1]);
      if (it != merge_ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best = k;
      }
    }
    if (best_rank == INT_MAX) break;
    // Merge every occurrence of the best pair, left to right, without overlap.
    const std::string first = word[best], second = word[best + 1];
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (size_t k = 0; k < word.size(); ++k) {
      if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
        merged.push_back(first + second);
        ++k;
      } else {
        merged.push_back(word[k]);
      }
    }
    word = std::move(merged);
  }
  for (const auto& symbol : word) ids.push_back(id_of(symbol));
}

void ClipTokenizer::encode_plain(const std::string& raw, std::vector<int64_t>& ids) const {
  std::u32string cleaned = text::to_lower(collapse_white_space(text::fix_text(text::utf8_to_u32(raw))));
  for (const auto& piece : pre_tokenize(cleaned)) bpe_ids(piece, ids);
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& text) const {
  // Like transformers, literal special tokens are split out before any
  // clean-up (earliest match first, the longest at the same position).
  std::vector<const std::string*> specials;
  for (const std::string* t : {&bos_token_, &eos_token_, &pad_token_, &unk_token_})
    if (!t->empty()) specials.push_back(t);

  std::vector<int64_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t best_at = std::string::npos;
    const std::string* best = nullptr;
    for (const std::string* t : specials) {
      size_t at = text.find(*t, pos);
      if (at == std::string::npos) continue;
      if (at < best_at || (at == best_at && t->size() > best->size())) {
        best_at = at;
        best = t;
      }
    }
    encode_plain(text.substr(pos, best ? best_at - pos : std::string::npos), ids);
    if (!best) break;
    ids.push_back(id_of(*best));
    pos = best_at + best->size();
  }
  return ids;
}

at::Tensor ClipTokenizer::tokenize(const std::string& text, int64_t max_length) const {
  int64_t length = max_length < 0 ? model_max_length_ : max_length;
  if (length < 2)
    throw Error("tokenizer: max_length " + std::to_string(length) + " leaves no room for the start and end tokens");
  std::vector<int64_t> ids = encode(text);
  if (static_cast<int64_t>(ids.size()) > length - 2) ids.resize(static_cast<size_t>(length - 2));
  at::Tensor out = at::full({1, length}, pad_id_, at::TensorOptions().dtype(at::kLong));
  auto acc = out.accessor<int64_t, 2>();
  acc[0][0] = bos_id_;
  for (size_t k = 0; k < ids.size(); ++k) acc[0][static_cast<int64_t>(k) + 1] = ids[k];
  acc[0][static_cast<int64_t>(ids.size()) + 1] = eos_id_;
  return out;
}

}  // namespace ma
