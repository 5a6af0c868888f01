#!/usr/bin/env bash
# For whenever a GPU is at hand (CI has none): the parity tests on the GPU in
# fp32, the bf16/fp16 accuracy report against the fixtures, then the benchmark
# at 512x512. Needs a CUDA build of libtorch (scripts/setup.sh installs the
# CPU one) and a build with tests: scripts/build.sh -DMA_BUILD_TESTS=ON.
# Usage: scripts/gpu-check.sh [device]   (default cuda; e.g. cuda:1)
set -euo pipefail
cd "$(dirname "$0")/.."
device="${1:-cuda}"
export MA_TEST_DEVICE="$device"  # tests/test_util.h: the engine tests' device
bin=build/tests/parity_tests  # tests/parity: every suite that checks against the original's tensors
[[ -x "$bin" ]] || { echo "gpu-check: $bin missing (scripts/build.sh -DMA_BUILD_TESTS=ON)" >&2; exit 1; }
echo "== parity tests on $device, fp32"
"$bin" --gtest_filter='PipelineParity.*:ContextWindows.*'
echo "== bf16 and fp16 on $device against the fixtures (errors printed per tensor)"
"$bin" --gtest_filter='Dtype.*'
echo "== bench --size 512 on $device"
if build/magicanimate bench --help | grep -q -- "--device"; then
  build/magicanimate bench --size 512 --device "$device"
else
  echo "gpu-check: this build's bench has no --device option; skipped" >&2
fi
echo "gpu-check: done"
