#!/bin/bash
# Install and configure containerd 1.7 (with NRI), runc and the local test images on a fresh
# Debian 12 machine, as root. Idempotent: a second run only re-checks and rewrites the config.
#   setup.sh [--with-podman]
# containerd 1.7 is not in bookworm: its .deb is downloaded from trixie through a private apt
# side list and installed as a local file, so that only bookworm dependencies (runc) come in.
# Never `apt-get install` from the side list: the resolver would upgrade libc6 and the base system.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/env.sh"
WITH_PODMAN=0
for arg in "$@"; do
  case "$arg" in
    --with-podman) WITH_PODMAN=1 ;;
    *) echo "usage: $0 [--with-podman]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "setup.sh: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

have_containerd_17() { command -v containerd >/dev/null && containerd --version | grep -q ' 1\.7\.'; }

pkgs=()
command -v protoc >/dev/null || pkgs+=(protobuf-compiler)       # k8s-cri's build script needs protoc
[ -x /bin/busybox ] || pkgs+=(busybox-static)
command -v python3 >/dev/null || pkgs+=(python3)
[ "$WITH_PODMAN" = 1 ] && ! command -v podman >/dev/null && pkgs+=(podman)
if ! have_containerd_17 || [ ${#pkgs[@]} -gt 0 ]; then
  apt-get $APT update -q
fi
[ ${#pkgs[@]} -gt 0 ] && apt-get $APT install -y -q --no-install-recommends "${pkgs[@]}"

if ! have_containerd_17; then
  side="$(mktemp -d)"; trap 'rm -rf "$side"' EXIT
  mkdir -p "$side/lists/partial" "$side/debs"
  echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
    > "$side/sources.list"
  AT="$APT -o Dir::Etc::sourcelist=$side/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$side/lists"
  apt-get $AT update -q
  (cd "$side/debs" && apt-get $AT download containerd)
  apt-get $APT install -y -q --no-install-recommends "$side"/debs/containerd_*.deb
fi
# Assert the series, not the exact version: a trixie point release replaces the file on the mirror.
have_containerd_17 || { echo "setup.sh: containerd 1.7 not installed" >&2; containerd --version >&2 || true; exit 1; }
command -v runc >/dev/null || { echo "setup.sh: runc missing" >&2; exit 1; }

install -d -m 0755 /etc/containerd "$PALISADE_CTRD_DIR"
install -m 0644 "$HERE/config.toml" "$CTRD_CONFIG"

python3 "$HERE/mkimage.py" /bin/busybox "$PALISADE_CTRD_DIR/busybox.tar" "$BUSYBOX_IMAGE" sh
python3 "$HERE/mkimage.py" /bin/busybox "$PALISADE_CTRD_DIR/pause.tar" "$PAUSE_IMAGE" sleep infinity

# Import once now so that a setup-only run leaves a usable image store; start.sh re-imports
# whatever is missing (e.g. after /var/lib/containerd was wiped).
started=0
if ! ctrd_up; then "$HERE/start.sh"; started=1; else "$HERE/start.sh" --import-only; fi
[ "$started" = 1 ] && "$HERE/stop.sh"
echo "setup.sh: ok ($(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'))"
