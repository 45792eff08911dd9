#!/bin/bash
# Host entry point of the self-protection lab test: assembles /lab and runs protect.sh in the
# kernel lab (one kernel: self-protection uses the same BPF LSM/fmod_ret machinery on 6.1).
#
#   integration/lab/protect-run.sh [--kernel 6.1|6.12] [--lsm LIST] [--timeout SECS]
#
# --lsm LIST without `bpf` makes protect.sh expect the fmod_ret mechanism. Needs
# target/release/palisade and target/release/protect-attack
# (cargo build --release -p palisade -p palisade-integration --bin palisade --bin protect-attack);
# PALISADE_PROTECT_ATTACK=PATH names another protect-attack binary (the cargo test passes its own).
# Exit status: protect.sh's (1: a check failed), 2 for a missing prerequisite, or kernel-lab.sh's.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB_ARGS=(--kernel 6.12) TIMEOUT=600 MECH=bpf_lsm
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) LAB_ARGS=(--kernel "$2"); shift 2 ;;
    --lsm) LAB_ARGS+=("$1" "$2"); case ",$2," in *,bpf,*) ;; *) MECH=fmod_ret ;; esac; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    *) echo "protect-run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
ATTACK=${PALISADE_PROTECT_ATTACK:-$TARGET/protect-attack}
for b in "$TARGET/palisade" "$ATTACK"; do
  [ -x "$b" ] || { echo "protect-run.sh: $b missing: cargo build --release -p palisade -p palisade-integration --bin palisade --bin protect-attack" >&2; exit 2; }
done
FILES=$(mktemp -d)
trap 'rm -rf "$FILES"' EXIT
mkdir "$FILES/policies"
cp "$HERE/protect.sh" "$FILES/"
cp "$ROOT/policies/protect-etc.yaml" "$FILES/policies/"
exec "$ROOT/integration/kernel-lab.sh" "${LAB_ARGS[@]}" --timeout "$TIMEOUT" --files "$FILES" \
  --bin "$ATTACK" -- "sh /lab/protect.sh --expect-mechanism $MECH"
