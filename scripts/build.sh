#!/usr/bin/env bash
# Configures and builds magicanimate.cpp in build/ (Release, Ninja, ccache).
# Usage: scripts/build.sh [extra cmake args...]   (MA_BUILD_DIR: another build folder; MA_JOBS: parallel jobs;
#        MA_KEEP_GOING=1: build all that compiles and report every failing file, not only the first)
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
cmake -S . -B "${MA_BUILD_DIR:-build}" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "${MA_BUILD_DIR:-build}" -j"${MA_JOBS:-$(nproc)}" ${MA_KEEP_GOING:+-- -k 0}
