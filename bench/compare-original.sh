#!/bin/sh
# Side by side: the ORIGINAL MagicAnimate pipeline (your checkout of
# github.com/magic-research/magic-animate plus diffusers v0.21.4, on Debian's
# python3-torch) and this engine, on the same work; prints a Markdown table.
#
#   bench/compare-original.sh --original DIR --diffusers DIR [--models DIR] [--size S]
#       [--frames F] [--steps N] [--threads T] [--context C] [--bin PATH] [--json FILE]
#
# --original: the folder holding magicanimate/; --diffusers: diffusers v0.21.4's
# src/ folder; --models: a pretrained_models folder (default: tests/data/models,
# the tiny random models); --bin (or MA_BIN): the magicanimate executable
# (default: build/magicanimate). PYTHON picks the interpreter that has Debian's
# torch (default: /usr/bin/python3). See docs/performance.md.
set -e
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
if [ ! -x "$py" ]; then
  py=$(command -v python3 || true)
fi
if [ -z "$py" ]; then
  echo "compare-original: no python3 (set PYTHON)" >&2
  exit 1
fi
exec "$py" "$here/compare_original.py" "$@"
