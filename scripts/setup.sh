#!/usr/bin/env bash
# Installs every Debian package magicanimate.cpp needs to build, test and run.
# Idempotent and non-interactive: safe to run on every CI start.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libgloo-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libzip-dev zlib1g-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libcpp-httplib-dev libssl-dev libbrotli-dev
  libsqlite3-dev
  libicu-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  libopenblas0-pthread
)
# Browser tests of the web page (skipped if MA_SKIP_BROWSER=1).
if [[ "${MA_SKIP_BROWSER:-0}" != 1 ]]; then
  PACKAGES+=(chromium)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
