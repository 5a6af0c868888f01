// Process memory figures for the benchmark and the long-video test (Linux
// /proc/self/status; getrusage where /proc is missing).
#pragma once
#include <cstdint>

namespace ma::bench {

// Resident set size now, in bytes (VmRSS); 0 if unknown.
int64_t current_rss_bytes();

// Peak resident set size since the start or the last reset_peak_rss(), in
// bytes (VmHWM; getrusage's ru_maxrss, which cannot be reset, as fallback).
int64_t peak_rss_bytes();

// Restarts the peak at the current RSS (writes "5" to /proc/self/clear_refs,
// Linux >= 4.0). Returns false where that is not possible: peak_rss_bytes()
// then stays the peak of the whole process.
bool reset_peak_rss();

inline double to_mb(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace ma::bench
