#!/bin/bash
# Host entry point: builds the bypass programs, assembles /lab and runs enforcement.sh in the
# kernel lab.
#
#   integration/lab/run.sh [--kernel 6.1|6.12] [--lsm LIST] [--timeout SECS] [-- ENFORCEMENT-ARGS...]
#
# --lsm LIST boots with that LSM list; without `bpf` in it the enforcer must fall back to
# fmod_ret, so enforcement.sh is told to expect that mechanism. Needs target/release/palisade
# (cargo build --release -p palisade). Exit status: enforcement.sh's, or kernel-lab.sh's.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB_ARGS=() ARGS=() TIMEOUT=1500 MECH=bpf_lsm
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) LAB_ARGS+=("$1" "$2"); shift 2 ;;
    --lsm) LAB_ARGS+=("$1" "$2"); case ",$2," in *,bpf,*) ;; *) MECH=fmod_ret ;; esac; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --) shift; ARGS=("$@"); break ;;
    *) echo "lab/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/palisade
[ -x "$BIN" ] || { echo "lab/run.sh: $BIN missing: cargo build --release -p palisade" >&2; exit 2; }
OUT=$("$ROOT/integration/bypass/build.sh")
FILES=$(mktemp -d)
trap 'rm -rf "$FILES"' EXIT
mkdir "$FILES/policies"
cp "$HERE/enforcement.sh" "$OUT/bypass" "$ROOT/integration/bypass/run-suite.sh" "$FILES/"
cp "$ROOT/policies/protect-etc.yaml" "$ROOT/integration/bypass/policies/bypass-suite.yaml" \
  "$ROOT/integration/bypass/policies/bypass-suite-kill.yaml" \
  "$HERE/policies/"*.yaml "$FILES/policies/"
CMD="sh /lab/enforcement.sh --expect-mechanism $MECH"
for a in "${ARGS[@]}"; do CMD+=" $(printf '%q' "$a")"; done
exec "$ROOT/integration/kernel-lab.sh" "${LAB_ARGS[@]}" --timeout "$TIMEOUT" --files "$FILES" \
  --bin "$OUT/bypass-payload-dyn" -- "$CMD"
