#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install packages, build, run
# every CTest test (unit, parity, CLI, server, sanitizer and browser tests),
# then a short libFuzzer run of the loaders. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DMA_BUILD_TESTS=ON
# ctest runs nproc tests at once: one libtorch thread per test process unless
# the caller says otherwise. libtorch 2.x starts a team of every core by default
# (Debian's 1.13 build one), and OpenMP teams sharing busy cores wait on each
# other at every barrier: the libtorch 2.6 suite ran ~10x slower for that alone.
# (Programs given --threads still use what they are given.)
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
(cd "${MA_BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)" --timeout 1500 \
  $([[ "${MA_SLOW:-0}" == 1 ]] || echo -LE slow))
if [[ -x scripts/fuzz.sh && "${MA_SKIP_FUZZ:-0}" != 1 ]]; then
  bash scripts/fuzz.sh "${MA_FUZZ_SECONDS:-15}"
fi
echo "test: all passed"
