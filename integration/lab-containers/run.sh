#!/bin/bash
# Host entry point: containers under palisade enforcement inside the kernel lab. Assembles /lab
# (guest.sh, the images, containerd's and podman's config, the shipped hooks.d file) and boots
# integration/kernel-lab.sh with containerd, runc, podman, conmon and cri-run copied in.
#
#   integration/lab-containers/run.sh [--kernel 6.1|6.12] [--timeout SECS] [--keep] [-- GUEST-ARGS...]
#
# GUEST-ARGS go to guest.sh (--only cri|podman, --expect-mechanism M). Prerequisites (as root):
#   integration/containerd/setup.sh --with-podman        containerd 1.7, runc, podman, conmon
#   cargo build --release -p palisade                    target/release/palisade
#   cargo build --release -p palisade-integration --bin cri-run
# A missing one exits 2 naming the command to run. Exit status: guest.sh's, or kernel-lab.sh's.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB_ARGS=() ARGS=() TIMEOUT=900
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) LAB_ARGS+=("$1" "$2"); shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --keep) LAB_ARGS+=("$1"); shift ;;
    --) shift; ARGS=("$@"); break ;;
    *) echo "lab-containers/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
need() { echo "lab-containers/run.sh: $1 missing: run $2" >&2; exit 2; }
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
[ -x "$TARGET/palisade" ] || need "$TARGET/palisade" "cargo build --release -p palisade"
[ -x "$TARGET/cri-run" ] || need "$TARGET/cri-run" "cargo build --release -p palisade-integration --bin cri-run"
BINS=()
for b in containerd containerd-shim-runc-v2 ctr runc podman conmon; do
  p=$(command -v "$b") || need "$b" "integration/containerd/setup.sh --with-podman (as root)"
  BINS+=(--bin "$p")
done
containerd --version | grep -q ' 1\.7\.' || need "containerd 1.7" "integration/containerd/setup.sh --with-podman (as root)"
for f in /etc/containers/policy.json /usr/share/containers/containers.conf /usr/share/containers/seccomp.json; do
  [ -f "$f" ] || need "$f (podman's packaged config)" "integration/containerd/setup.sh --with-podman (as root)"
done
[ -x /bin/busybox ] || need /bin/busybox "integration/containerd/setup.sh (as root)"

FILES=$(mktemp -d)
trap 'rm -rf "$FILES"' EXIT
mkdir -p "$FILES"/{images,podman/share,hooks.d,hooks-failopen}
cp "$HERE/guest.sh" "$HERE/image-shadow" "$FILES/"
# containerd: the same config the host tests use (NRI on, cgroupfs, overlayfs snapshotter)
cp "$ROOT/integration/containerd/config.toml" "$FILES/containerd.toml"
python3 "$ROOT/integration/containerd/mkimage.py" /bin/busybox "$FILES/images/pause.tar" localhost/pause:local sleep infinity
python3 "$HERE/mkimage-files.py" /bin/busybox "$FILES/images/shadow.tar" localhost/shadow:lab \
  --file etc/shadow="$HERE/image-shadow" sh
cp "$HERE/podman-containers.conf" "$FILES/podman/containers.conf"
cp "$HERE/podman-storage.conf" "$FILES/podman/storage.conf"
cp /etc/containers/policy.json "$FILES/podman/"
cp /usr/share/containers/containers.conf /usr/share/containers/seccomp.json "$FILES/podman/share/"
# The shipped hooks.d file as is (its path, /usr/local/bin/palisade, is where the lab puts
# palisade), and a variant that passes --fail-open for the fail-open check.
HOOK=$ROOT/install/hooks.d/palisade.json
cp "$HOOK" "$FILES/hooks.d/"
python3 - "$HOOK" "$FILES/hooks-failopen/palisade.json" <<'EOF'
import json, sys
hook = json.load(open(sys.argv[1]))
hook["hook"]["args"].append("--fail-open")
json.dump(hook, open(sys.argv[2], "w"), indent=2)
EOF

CMD="sh /lab/guest.sh"
for a in "${ARGS[@]}"; do CMD+=" $(printf '%q' "$a")"; done
exec "$ROOT/integration/kernel-lab.sh" "${LAB_ARGS[@]}" --modules overlay --mem 2048 --timeout "$TIMEOUT" \
  --files "$FILES" --bin "$TARGET/cri-run" "${BINS[@]}" -- "$CMD"
