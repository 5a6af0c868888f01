#!/bin/sh
# Browser test of the `magicanimate serve` page (CTest label "browser").
#   tests/browser/run.sh <magicanimate binary> <screenshot dir>
# Installs playwright-core from package-lock.json on first use (npm ci), then
# drives Debian's Chromium headless. Exit 77 (CTest: skipped) when node,
# Chromium or the npm packages are not available.
set -u
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:?usage: run.sh <magicanimate binary> <screenshot dir>}
outdir=${2:?usage: run.sh <magicanimate binary> <screenshot dir>}
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
[ -x "$CHROMIUM" ] || { echo "SKIP: no Chromium at $CHROMIUM"; exit 77; }

# Absolute paths: the script works from its own folder.
case "$binary" in /*) ;; *) binary="$(pwd)/$binary" ;; esac
case "$outdir" in /*) ;; *) outdir="$(pwd)/$outdir" ;; esac
cd "$here" || exit 1
# Reinstall when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! npm ci --no-audit --no-fund; then
    echo "SKIP: npm ci failed (offline?); cannot get playwright-core"
    exit 77
  fi
fi
mkdir -p "$outdir"
exec node page.test.mjs "$binary" "$outdir"
