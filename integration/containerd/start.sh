#!/bin/bash
# Start containerd in the background (no systemd here), wait until it answers, and make sure the
# local busybox and pause images are in the k8s.io namespace (the one CRI uses).
#   start.sh                 start (no-op if the recorded containerd is alive) + import images
#   start.sh --import-only   only import missing images into a running containerd
# Log: $PALISADE_CTRD_DIR/containerd.log (appended), pid: $PALISADE_CTRD_DIR/containerd.pid.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/env.sh"
mkdir -p "$PALISADE_CTRD_DIR"

import_images() {
  local have
  have="$(ctr -n k8s.io images ls -q)"
  for pair in "$BUSYBOX_IMAGE busybox.tar" "$PAUSE_IMAGE pause.tar"; do
    set -- $pair
    grep -qx "$1" <<<"$have" && continue
    [ -f "$PALISADE_CTRD_DIR/$2" ] || { echo "start.sh: $PALISADE_CTRD_DIR/$2 missing: run $HERE/setup.sh" >&2; exit 1; }
    ctr -n k8s.io images import "$PALISADE_CTRD_DIR/$2" >/dev/null
  done
}

if [ "${1:-}" = --import-only ]; then import_images; exit 0; fi
command -v containerd >/dev/null || { echo "start.sh: containerd not installed: run $HERE/setup.sh" >&2; exit 1; }

if [ -f "$CTRD_PID" ] && kill -0 "$(cat "$CTRD_PID")" 2>/dev/null && ctrd_up; then
  import_images; echo "start.sh: containerd already running (pid $(cat "$CTRD_PID"))"; exit 0
fi
if ctrd_up; then
  echo "start.sh: a containerd not started by this script answers on $CTRD_SOCK; stop it first" >&2; exit 1
fi

echo "=== start $(date -u +%FT%T.%NZ)" >>"$CTRD_LOG"
log_from=$(( $(stat -c %s "$CTRD_LOG") + 1 ))   # readiness lines are looked for in this run's part only
# setsid: containerd must not die with the shell (or test process) that started it.
setsid containerd --config "$CTRD_CONFIG" --log-level debug >>"$CTRD_LOG" 2>&1 < /dev/null &
echo $! >"$CTRD_PID"
# Readiness is `ctr version` answering, not the NRI socket existing: that file survives a stop.
for _ in $(seq 200); do
  ctrd_up && break
  kill -0 "$(cat "$CTRD_PID")" 2>/dev/null || { echo "start.sh: containerd exited; tail of $CTRD_LOG:" >&2; tail -20 "$CTRD_LOG" >&2; exit 1; }
  sleep 0.05
done
ctrd_up || { echo "start.sh: containerd did not answer within 10 s; see $CTRD_LOG" >&2; exit 1; }
# The NRI socket and pre-installed plugins are started by the CRI plugin's Run, after the API
# answers; "successfully booted" is logged once they are up.
for _ in $(seq 200); do grep -q 'containerd successfully booted' <(tail -c +"$log_from" "$CTRD_LOG") && break; sleep 0.05; done
grep -q 'Registered namespace .*k8s.io.* with NRI' <(tail -c +"$log_from" "$CTRD_LOG") \
  || { echo "start.sh: containerd runs but NRI is not enabled for CRI; see $CTRD_LOG" >&2; exit 1; }
import_images
echo "start.sh: containerd running (pid $(cat "$CTRD_PID"))"
