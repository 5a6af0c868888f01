#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install packages, build, run
# every CTest test (unit, parity, CLI, server, sanitizer and browser tests),
# then a short libFuzzer run of the loaders. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DMA_BUILD_TESTS=ON
(cd "${MA_BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)" --timeout 1500 \
  $([[ "${MA_SLOW:-0}" == 1 ]] || echo -LE slow))
if [[ -x scripts/fuzz.sh && "${MA_SKIP_FUZZ:-0}" != 1 ]]; then
  bash scripts/fuzz.sh "${MA_FUZZ_SECONDS:-15}"
fi
echo "test: all passed"
