#!/bin/bash
# Build and test dependencies of palisade on Debian 12, as root. Idempotent.
#   clang/llvm      compile bpf/src/*.bpf.c (libbpf-cargo's SkeletonBuilder)
#   libelf, zlib    libbpf-sys links them
#   protobuf-compiler  the local API's gRPC code (enforcer/build.rs) and k8s-cri (tests)
#   bpftool         regenerate bpf/include/vmlinux.h; inspect loaded programs
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "build-deps.sh: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
pkgs=(clang llvm libelf-dev zlib1g-dev pkg-config protobuf-compiler bpftool make gcc g++ libc6-dev jq curl python3 sudo libcap2-bin xz-utils)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "build-deps.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }
