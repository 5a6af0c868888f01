// Reader for PyTorch `torch.save` checkpoints (.bin/.ckpt/.pt/.pth): a zip
// archive holding `<archive>/data.pkl` (a pickle describing the state dict)
// and one raw little-endian record `<archive>/data/<key>` per storage; or,
// for files saved before PyTorch 1.6, the legacy stream of pickles followed
// by the raw storages (see parse_legacy_torch_save).
//
// Pickles can execute arbitrary code when Python loads them, so this reader
// is a restricted interpreter: it understands only the opcodes torch state
// dicts use, accepts only an allow-list of globals (OrderedDict, the tensor
// rebuild helpers, torch.*Storage) and never calls anything. Every other
// global is rejected by name before anything else happens with it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weights/tensor_map.h"

namespace ma {

// Returns the bytes (a 1-D CPU kByte tensor) of the storage record `key`,
// which must hold at least `min_bytes` bytes; throws ma::Error when the record
// is missing or too small. Called once per distinct storage, before anything
// of that size is allocated.
using StorageRecordReader = std::function<at::Tensor(const std::string& key, uint64_t min_bytes)>;

// Interprets a state-dict pickle held in memory. Tensors of nested dicts get
// dot-joined names ({"state_dict": {"w": T}} -> "state_dict.w"); integer keys
// are written in decimal; every non-tensor value is ignored. Tensors keep the
// dtype of their storage and live on the CPU. Throws ma::Error (without a file
// name) on anything malformed or forbidden.
TensorMap parse_pickle_state_dict(const char* data, size_t size, const StorageRecordReader& read_record);

// Same for a pickle that may be followed by other data: *end receives the
// offset just past its STOP opcode.
TensorMap parse_pickle_state_dict(const char* data, size_t size, const StorageRecordReader& read_record,
                                  size_t* end);

// Interprets a pickle holding a list of strings (the legacy format's storage
// keys); *end as above.
std::vector<std::string> parse_pickle_string_list(const char* data, size_t size, size_t* end);

// Interprets a legacy (pre-1.6, non-zip) torch.save stream held in memory:
// magic-number, protocol and system-info pickles, the state-dict pickle, the
// list of storage keys, then each storage as an int64 element count and its
// raw little-endian bytes. Tensors view `bytes` (a 1-D kByte tensor) without
// copying. Throws ma::Error (without a file name).
TensorMap parse_legacy_torch_save(const at::Tensor& bytes);

// Loads a torch.save file (zip archive, or the legacy format). Errors name the file.
TensorMap load_torch_pickle(const std::string& path);

// Same for an archive image already in memory (used by the fuzzer); `name`
// only appears in error messages.
TensorMap load_torch_pickle_from_memory(const char* data, size_t size, const std::string& name = "<memory>");

}  // namespace ma
