#!/usr/bin/env bash
# Builds magicanimate.cpp against libtorch 2.x and runs the whole test suite
# there: Debian trixie's libtorch-dev 2.6, in a trixie root that debootstrap
# makes under build/ (the host stays on bookworm's libtorch 1.13).
#   scripts/check-torch2.sh             scripts/test.sh inside the trixie root
#   scripts/check-torch2.sh --cuda      that, then compile and link everything
#                                       against libtorch-cuda-dev 2.6 (no GPU needed)
#   scripts/check-torch2.sh --cuda-only only the CUDA compile-and-link check
# The roots (build/torch2-root, build/torch2-cuda-root) and the ccache
# (build/torch2-ccache) are kept between runs; delete a root to start it over.
# The worktree is bind-mounted at /src in the root, so the builds land in
# build/torch2-build and build/torch2-cuda here. Logs: build/torch2-logs/.
# Needs root (debootstrap, mount, chroot) and the Debian mirror the host's apt
# uses. Browser tests are off in the root (MA_SKIP_BROWSER=1 unless set: they
# test the web page, not libtorch, and want Chromium and npm in there).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cpu=1 cuda=0
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=1 ;;
    --cuda-only) cuda=1 cpu=0 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "check-torch2: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "check-torch2: needs root (debootstrap, mount, chroot)" >&2; exit 2; }

suite=trixie
logs="$repo/build/torch2-logs"
mkdir -p "$logs" "$repo/build/torch2-ccache"

# The Debian mirror of the host's own apt sources (deb822 or one-line form).
host_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    sed -nE -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f"
  done | tr ' ' '\n' | grep -E '^https?://[^[:space:]]+/debian/?$' | head -n1
}
mirror="${MA_DEBIAN_MIRROR:-$(host_mirror)}"
[[ -n "$mirror" ]] || { echo "check-torch2: no Debian mirror in /etc/apt/sources*; set MA_DEBIAN_MIRROR" >&2; exit 2; }

command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap

# Every mount this script made, unmounted (innermost first) however it exits.
mounts=()
unmount_all() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" || true
  done
  mounts=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM

mount_into() {  # ROOT: /proc, /sys, /dev and the worktree at /src
  local root="$1" m
  for m in proc sys dev src; do
    mkdir -p "$root/$m"
    if mountpoint -q "$root/$m"; then umount -R -l "$root/$m"; fi  # left by a killed run
  done
  mount -t proc proc "$root/proc" && mounts+=("$root/proc")
  mount -t sysfs sys "$root/sys" && mounts+=("$root/sys")
  mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" && mounts+=("$root/dev")
  # Not recursive: the roots below build/ stay out of the view from inside.
  mount --bind "$repo" "$root/src" && mounts+=("$root/src")
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}

# ROOT COMPONENTS: a minimal trixie root, made once (in ROOT.tmp, then renamed,
# so an interrupted debootstrap is never taken for a finished root).
make_root() {
  local root="$1" components="$2"
  if [[ ! -f "$root/.ma-root-ready" ]]; then
    rm -rf "$root.tmp"
    echo "check-torch2: debootstrap $suite into $root (log: $logs/$(basename "$root")-debootstrap.log)"
    local t0=$SECONDS
    debootstrap --variant=minbase --components="${components// /,}" "$suite" "$root.tmp" "$mirror" \
      >"$logs/$(basename "$root")-debootstrap.log" 2>&1 ||
      { tail -n 20 "$logs/$(basename "$root")-debootstrap.log" >&2; exit 1; }
    rm -rf "$root" && mv "$root.tmp" "$root"
    touch "$root/.ma-root-ready"
    echo "check-torch2: root ready in $((SECONDS - t0)) s"
  fi
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite
Components: $components
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

# ROOT COMMAND: runs COMMAND with bash in ROOT at /src, a clean environment.
in_root() {
  local root="$1"
  shift
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb CI="${CI:-}" \
    CCACHE_DIR=/src/build/torch2-ccache CCACHE_MAXSIZE=8G \
    MA_SKIP_BROWSER="${MA_SKIP_BROWSER:-1}" MA_SKIP_FUZZ="${MA_SKIP_FUZZ:-0}" \
    MA_FUZZ_SECONDS="${MA_FUZZ_SECONDS:-15}" MA_JOBS="${MA_JOBS:-$(nproc)}" MA_KEEP_GOING=1 \
    /bin/bash -euo pipefail -c "cd /src && $*"
}

status=0

if ((cpu)); then
  root="$repo/build/torch2-root"
  t0=$SECONDS
  make_root "$root" "main"
  mount_into "$root"
  in_root "$root" 'echo "check-torch2: libtorch $(dpkg-query -W -f="\${Version}" libtorch-dev 2>/dev/null || echo "(not yet installed)") in $(. /etc/os-release; echo "$PRETTY_NAME")"'
  echo "check-torch2: scripts/test.sh in the root (log: $logs/cpu-test.log)"
  if in_root "$root" 'MA_BUILD_DIR=build/torch2-build MA_FUZZ_BUILD_DIR=/src/build/torch2-fuzz bash scripts/test.sh' \
    >"$logs/cpu-test.log" 2>&1; then
    echo "check-torch2: libtorch $(chroot "$root" dpkg-query -W -f='${Version}' libtorch-dev): test suite passed"
  else
    status=1
    echo "check-torch2: libtorch 2 test suite FAILED (see $logs/cpu-test.log):" >&2
    grep -E '^[0-9]+% tests passed|\*\*\*Failed|\(Failed\)|\(Timeout\)|error:|FAILED' "$logs/cpu-test.log" | tail -n 40 >&2 || tail -n 40 "$logs/cpu-test.log" >&2
  fi
  grep -E '^[0-9]+% tests passed' "$logs/cpu-test.log" || true
  echo "check-torch2: CPU part took $((SECONDS - t0)) s"
  unmount_all
fi

if ((cuda)); then
  # libtorch-cuda-dev (contrib) needs nvidia-cuda-toolkit (non-free) and
  # nvidia-cudnn, whose installer downloads cuDNN from NVIDIA while it
  # configures -- impossible offline. A local stub package of that name stands
  # in: nothing here runs CUDA code, so cuDNN's libraries are never loaded, and
  # the link leaves their symbols unresolved (--allow-shlib-undefined).
  # This is a compile-and-link check only; the binaries cannot run.
  root="$repo/build/torch2-cuda-root"
  t0=$SECONDS
  make_root "$root" "main contrib non-free"
  mount_into "$root"
  echo "check-torch2: CUDA packages in the root (log: $logs/cuda-setup.log)"
  in_root "$root" '
    if ! dpkg-query -W -f="\${Status}" nvidia-cudnn 2>/dev/null | grep -q "install ok installed"; then
      apt-get update -qq
      version=$(apt-cache policy nvidia-cudnn | sed -n "s/^ *Candidate: *//p")
      [[ -n "$version" && "$version" != "(none)" ]] || { echo "no nvidia-cudnn in the archive"; exit 1; }
      stub=$(mktemp -d)
      mkdir -p "$stub/DEBIAN"
      printf "%s\n" "Package: nvidia-cudnn" "Version: $version" "Architecture: amd64" \
        "Maintainer: magicanimate.cpp check-torch2.sh <root@localhost>" "Section: contrib/libs" "Priority: optional" \
        "Description: local stand-in for nvidia-cudnn (no cuDNN)" \
        " The real package downloads cuDNN from NVIDIA when it configures; this one" \
        " installs nothing, for a compile-and-link check of libtorch-cuda." >"$stub/DEBIAN/control"
      dpkg-deb --build "$stub" /tmp/nvidia-cudnn-stub.deb
      dpkg -i /tmp/nvidia-cudnn-stub.deb
      apt-mark hold nvidia-cudnn
      rm -rf "$stub"
    fi
    MA_SKIP_BROWSER=1 MA_TORCH_PACKAGE=libtorch-cuda-dev bash scripts/setup.sh
    # nccl.h: ProcessGroupNCCL.hpp of a CUDA libtorch includes it (src/dist).
    for p in nvidia-cuda-toolkit libnccl-dev; do
      dpkg-query -W -f="\${Status}" $p 2>/dev/null | grep -q "install ok installed" ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $p
    done' >"$logs/cuda-setup.log" 2>&1 ||
    { echo "check-torch2: CUDA packages FAILED to install (see $logs/cuda-setup.log)" >&2; tail -n 30 "$logs/cuda-setup.log" >&2; exit 1; }
  echo "check-torch2: compile and link against libtorch-cuda $(chroot "$root" dpkg-query -W -f='${Version}' libtorch-cuda-dev) (log: $logs/cuda-build.log)"
  # PRE_TEST: the test programs list their cases when CTest runs, not right
  # after linking (they cannot start here: no cuDNN to load).
  if in_root "$root" 'MA_BUILD_DIR=build/torch2-cuda bash scripts/build.sh -DMA_BUILD_TESTS=ON \
      -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST \
      -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--allow-shlib-undefined' \
    >"$logs/cuda-build.log" 2>&1; then
    n=$(find "$repo/build/torch2-cuda" -maxdepth 3 -type f -perm -u+x -name '*_test*' | wc -l)
    echo "check-torch2: CUDA build compiled and linked (magicanimate and $n test programs; not runnable without cuDNN)"
  else
    status=1
    echo "check-torch2: CUDA build FAILED (see $logs/cuda-build.log):" >&2
    grep -E 'error|FAILED|undefined reference' "$logs/cuda-build.log" | head -n 40 >&2 || tail -n 40 "$logs/cuda-build.log" >&2
  fi
  echo "check-torch2: CUDA part took $((SECONDS - t0)) s"
  unmount_all
fi

((status == 0)) && echo "check-torch2: all passed"
exit "$status"
