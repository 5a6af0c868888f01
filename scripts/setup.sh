#!/usr/bin/env bash
# Installs every Debian package magicanimate.cpp needs to build, test and run.
# Idempotent and non-interactive: safe to run on every CI start.
# Works on Debian bookworm (libtorch 1.13) and trixie (libtorch 2.6).
#   MA_TORCH_PACKAGE=libtorch-cuda-dev  the CUDA build of libtorch instead (trixie contrib)
#   MA_SKIP_BROWSER=1                   no Chromium/node for the browser tests
set -euo pipefail

TORCH_PACKAGE="${MA_TORCH_PACKAGE:-libtorch-dev}"
# Gloo's headers for src/dist: the CUDA libtorch is built on the CUDA Gloo,
# whose -dev package conflicts with (and replaces) the plain one.
GLOO_PACKAGE=libgloo-dev
[[ "$TORCH_PACKAGE" == libtorch-cuda-dev ]] && GLOO_PACKAGE=libgloo-cuda-dev
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  "$TORCH_PACKAGE" "$GLOO_PACKAGE"
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libzip-dev zlib1g-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libcpp-httplib-dev libssl-dev libbrotli-dev
  libsqlite3-dev
  libicu-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang
  libopenblas0-pthread
)
# Browser tests of the web page (skipped if MA_SKIP_BROWSER=1).
if [[ "${MA_SKIP_BROWSER:-0}" != 1 ]]; then
  PACKAGES+=(chromium)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
fi

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
updated=0
install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "setup: installing ${missing[*]}"
  if ((!updated)); then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    updated=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_missing "${PACKAGES[@]}"
# libFuzzer and the sanitizer runtimes ship per clang version (14 on bookworm,
# 19 on trixie): take the one of the clang just installed.
install_missing "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
echo "setup: all packages present"
