#!/bin/bash
# Host entry point: build the bypass programs, boot the kernel lab and run run-suite.sh in it.
#
#   integration/bypass/lab-run.sh [--kernel 6.1|6.12] [--lsm LIST] [--timeout SECS]
#                                 [--pre 'GUEST SHELL'] -- RUN-SUITE-ARGS...
#
# The guest gets /lab/{bypass,run-suite.sh,policies/} and /usr/local/bin/bypass-payload-dyn
# (plus target/release/palisade when it is built, via kernel-lab.sh). --pre runs first in the
# guest (e.g. start the agent). Exit status: run-suite.sh's (see there), or kernel-lab.sh's.
# Example (no enforcer: proves the attacks work):
#   integration/bypass/lab-run.sh --kernel 6.12 -- --cgroup /sys/fs/cgroup/unprotected --expect not-blocked
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_ARGS=() PRE=
while [ $# -gt 0 ]; do
  case $1 in
    --kernel|--lsm|--timeout) LAB_ARGS+=("$1" "$2"); shift 2 ;;
    --pre) PRE=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "lab-run: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT=$("$HERE/build.sh")
FILES=$(mktemp -d)
trap 'rm -rf "$FILES"' EXIT
cp "$OUT/bypass" "$HERE/run-suite.sh" "$FILES/"
cp -r "$HERE/policies" "$FILES/"
CMD="sh /lab/run-suite.sh"
for a in "$@"; do CMD+=" $(printf '%q' "$a")"; done
[ -n "$PRE" ] && CMD="$PRE; $CMD"
exec "$HERE/../kernel-lab.sh" "${LAB_ARGS[@]}" --files "$FILES" --bin "$OUT/bypass-payload-dyn" -- "$CMD"
