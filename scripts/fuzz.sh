#!/usr/bin/env bash
# Fuzzes the weight-file parsers with libFuzzer: configures build-fuzz with
# clang, builds fuzz_safetensors and fuzz_pickle, and runs each for SECONDS
# (default 20). New interesting inputs go to build-fuzz/fuzz-corpus/<target>
# (the seeds in fuzz/corpus/ are only read); a crash leaves its input in
# build-fuzz/fuzz-artifacts/ and makes this script fail.
#   usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail

seconds="${1:-20}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MA_FUZZ_BUILD_DIR:-$root/build-fuzz}"
[[ -f "$root/.ccache-env" ]] && source "$root/.ccache-env"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMA_FUZZ=ON -DMA_BUILD_TESTS=OFF -DMA_BUILD_BENCH=OFF -DMA_SANITIZE=OFF >/dev/null
cmake --build "$build" -j"${MA_JOBS:-2}" --target fuzz_safetensors fuzz_pickle

mkdir -p "$build/fuzz-artifacts"
for target in safetensors pickle; do
  work="$build/fuzz-corpus/$target"
  mkdir -p "$work"
  echo "fuzz: fuzz_$target for ${seconds}s"
  "$build/fuzz/fuzz_$target" \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$target-" "$work" "$root/fuzz/corpus/$target"
done
