#!/bin/bash
# Exec storm: N short processes as fast as the machine allows, with and without the agent, in
# one invocation. Prints exec/exit events seen vs expected, every loss counter, the agent's CPU
# time and peak RSS, and the storm's slowdown ratio against the no-agent baseline.
#   integration/bench/exec-storm.sh [N=20000] [WORKERS=2]       (root; builds nothing: run
#   `cargo build --release --workspace` first)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N=${1:-20000}; W=${2:-2}
BIN=${PALISADE_BIN:-target/release/palisade}
STORM=${STORM_BIN:-target/release/exec-storm}
[ -x "$BIN" ] && [ -x "$STORM" ] || { echo "build first: cargo build --release --workspace" >&2; exit 1; }
CG2=$(awk '$3=="cgroup2"{print $2; exit}' /proc/self/mounts)
WORK=$(mktemp -d); CG="$CG2/palisade-bench-$$"
cleanup() { [ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null; wait 2>/dev/null || true; rmdir "$CG" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "== baseline: $N execs, no agent"
base=$("$STORM" "$N" "$W")
echo "$base"

"$BIN" --socket "$WORK/s.sock" agent --nri-socket none --export-file "$WORK/events.json" \
  --export-file-max-mib 4096 2>"$WORK/agent.log" &
AGENT=$!
for _ in $(seq 100); do "$BIN" --socket "$WORK/s.sock" status >/dev/null 2>&1 && break; sleep 0.1; done
cpu() { awk '{print $14+$15}' "/proc/$AGENT/stat"; }
c0=$(cpu)
mkdir "$CG"; CGID=$(stat -c %i "$CG")
echo "== with agent: $N execs in cgroup $CGID"
with=$("$STORM" "$N" "$W" "$CG")
echo "$with"
# wait for the pipeline to drain: exits of every storm child
for _ in $(seq 300); do
  got=$(grep -c "\"cgroup_id\":$CGID}" "$WORK/events.json" || true)
  [ "$got" -ge $((2 * N)) ] && break; sleep 0.2
done
c1=$(cpu)
status=$("$BIN" --socket "$WORK/s.sock" status -o json)
hwm=$(awk '/VmHWM/{print $2}' "/proc/$AGENT/status")
kill "$AGENT"; wait "$AGENT" || true; AGENT=
execs=$(jq -c "select(.process_exec.process.cgroup_id==$CGID and (.process_exec.process.binary|endswith(\"/true\")))" "$WORK/events.json" | wc -l)
exits=$(jq -c "select(.process_exit.process.cgroup_id==$CGID and (.process_exit.process.binary|endswith(\"/true\")))" "$WORK/events.json" | wc -l)
tck=$(getconf CLK_TCK)
bs=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$base"); ws=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$with")
echo "== results"
echo "expected            exec=$N exit=$N (storm children of /bin/true)"
echo "seen                exec=$execs exit=$exits"
echo "kernel ringbuf drops $(jq .kernel_counters.ringbuf_drops <<<"$status")"
echo "export drops        $(jq .export_dropped <<<"$status")"
echo "undecodable         $(jq .decode_errors <<<"$status")"
echo "agent CPU           $(awk -v c=$((c1 - c0)) -v t="$tck" 'BEGIN{printf "%.2f s", c/t}') during the storm"
echo "agent peak RSS      $((hwm / 1024)) MiB"
echo "storm time          baseline ${bs}s, with agent ${ws}s, ratio $(awk -v a="$ws" -v b="$bs" 'BEGIN{printf "%.2f", a/b}')"
lost=$(( 2 * N - execs - exits ))
counted=$(( $(jq .kernel_counters.ringbuf_drops <<<"$status") + $(jq .export_dropped <<<"$status") ))
if [ "$lost" -gt 0 ] && [ "$counted" -lt "$lost" ]; then
  echo "FAIL: $lost events missing but only $counted counted as dropped" >&2; exit 1
fi
echo "OK: every event delivered or counted"
