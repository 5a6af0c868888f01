// CLIP's byte-level BPE tokenizer as Stable Diffusion 1.5 uses it
// (transformers CLIPTokenizer with ftfy installed), read from a tokenizer
// folder: vocab.json, merges.txt, and optionally tokenizer_config.json /
// special_tokens_map.json for the special tokens and model_max_length.
//
// A prompt becomes ids in these steps, each matching the original:
//   1. split out literal special tokens ("<|startoftext|>", "<|endoftext|>");
//   2. every other piece: ftfy clean-up (text/fix_text.h), whitespace runs
//      collapsed to one space and trimmed, lower-cased;
//   3. pre-tokenized with CLIP's pattern (case-insensitive)
//      <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//   4. each piece's UTF-8 bytes mapped to GPT-2's printable byte alphabet,
//      then merged by BPE rank with "</w>" marking the word end;
//   5. pieces looked up in vocab.json (unknown -> unk token).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace ma {

class ClipTokenizer {
 public:
  // Throws ma::Error naming the file when vocab.json / merges.txt is missing
  // or malformed, or a special token is not in the vocabulary.
  explicit ClipTokenizer(const std::string& tokenizer_dir);

  // The BPE ids of `text`, without start/end tokens and without truncation.
  std::vector<int64_t> encode(const std::string& text) const;

  // <|startoftext|> + ids + <|endoftext|>, truncated to `max_length` keeping
  // the end token last, padded with the pad token: int64 [1, max_length].
  // max_length < 0 means model_max_length (77 for SD 1.5).
  at::Tensor tokenize(const std::string& text, int64_t max_length = -1) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t model_max_length() const { return model_max_length_; }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  // Pieces of already-cleaned, lower-cased text (step 3), as UTF-8.
  std::vector<std::string> pre_tokenize(const std::u32string& text) const;
  // Steps 4-5 for one piece; appends ids.
  void bpe_ids(const std::string& piece, std::vector<int64_t>& ids) const;
  void encode_plain(const std::string& text, std::vector<int64_t>& ids) const;
  int64_t id_of(const std::string& token) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> merge_ranks_;  // "first second" -> rank
  std::vector<std::string> byte_symbol_;             // byte -> UTF-8 of its printable stand-in
  std::string bos_token_, eos_token_, pad_token_, unk_token_;
  int64_t bos_id_ = 0, eos_id_ = 0, pad_id_ = 0, unk_id_ = 0;
  int64_t model_max_length_ = 77;
};

}  // namespace ma
