#!/bin/bash
# Stop the containerd started by start.sh. CRI pods are removed first (their shims and containers
# outlive containerd otherwise), then containerd is sent SIGTERM (SIGKILL after 10 s), then the
# cgroup parents that CRI pods leave behind are removed from every hierarchy.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/env.sh"

if ctrd_up; then
  # Pods are tasks+containers in the k8s.io namespace: kill the tasks, then delete everything.
  for t in $(ctr -n k8s.io tasks ls -q 2>/dev/null); do ctr -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  for _ in $(seq 50); do
    running="$(ctr -n k8s.io tasks ls 2>/dev/null | awk 'NR>1 && $3!="STOPPED"' | wc -l)"
    [ "$running" = 0 ] && break; sleep 0.1
  done
  for t in $(ctr -n k8s.io tasks ls -q 2>/dev/null); do ctr -n k8s.io tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do ctr -n k8s.io containers delete "$c" >/dev/null 2>&1; done
fi

if [ -f "$CTRD_PID" ]; then
  pid="$(cat "$CTRD_PID")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$CTRD_PID"
fi

# A pre-installed plugin left behind by an interrupted test would make the next containerd
# start exit (NRI 0.6.1 treats a plugin that fails to start as fatal).
rm -f /opt/nri/plugins/*-palisade-it-*

# Leftover container leaves (killed tasks) and pod parents, in every v1 hierarchy and cgroup2.
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
  for p in k8s.io $CGROUP_LEFTOVER_PARENTS; do
    [ -d "$h$p" ] && find "$h$p" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
  done
done
echo "stop.sh: done"
