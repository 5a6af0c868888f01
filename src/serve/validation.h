// Turns a submission's form fields into checked job parameters. Every
// rejection is a RequestError(400) naming the field and the allowed range,
// raised before anything touches the queue.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "serve/job.h"
#include "serve/limits.h"

namespace ma::serve {

// The fields a submission may carry (multipart/form-data).
extern const std::vector<std::string> kFileFields;   // source, motion
extern const std::vector<std::string> kParamFields;  // steps, scheduler, guidance, seed, size, context, overlap, L, prompt, extract_pose, deep_cache

// Looks a text field up by name; nullopt when absent.
using FieldLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Unset fields take `defaults`; each set one must parse whole and be in range.
JobParams parse_job_params(const FieldLookup& field, const JobParams& defaults, const Limits& limits);

// Throws RequestError(400) unless `params` are in range (checks the defaults too).
void check_job_params(const JobParams& params, const Limits& limits);

// True when `text` is well-formed UTF-8 (JSON, the tokenizer and the page need it).
bool is_valid_utf8(const std::string& text);

// A client's file name fit for display and JSON: invalid UTF-8 bytes become
// '?', control characters '_', at most 200 bytes.
std::string display_name(const std::string& filename);

// A safe lower-case extension for storing an upload ("png", "mp4"), from the
// client's file name; `fallback` when it has none usable.
std::string upload_extension(const std::string& filename, const std::string& fallback);

}  // namespace ma::serve
