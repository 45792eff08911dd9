#!/bin/bash
# Event flood: N (default 1,000,000) refused loopback connects, each a `tcp_connect` detection
# event for the agent (run with --detect-host), as fast as one core can issue them. Shows that
# the agent's memory stays bounded, and that every event is either exported or counted as
# dropped (kernel ring buffer or export queue). Enforcement never depends on any of this: it
# is decided in the kernel from maps.
#   integration/bench/event-flood.sh [N]      (root; run `cargo build --release --workspace` first)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N=${1:-1000000}
BIN=${PALISADE_BIN:-target/release/palisade}
[ -x "$BIN" ] || { echo "build first: cargo build --release --workspace" >&2; exit 1; }
WORK=$(mktemp -d)
cleanup() { [ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
gcc -O2 -o "$WORK/flood" integration/bench/src/connect_flood.c

PORT=$((20000 + RANDOM % 20000))
# rotation keeps the disk bounded: at ~4 KB per event, 1M events would be ~4 GB
"$BIN" --socket "$WORK/s.sock" agent --nri-socket none --bpf-pin-dir none --detect-host \
  --export-file "$WORK/events.json" --export-file-max-mib 64 --export-file-keep 1 \
  --metrics-addr "127.0.0.1:$PORT" 2>"$WORK/agent.log" &
AGENT=$!
for _ in $(seq 100); do "$BIN" --socket "$WORK/s.sock" status >/dev/null 2>&1 && break; sleep 0.1; done
cpu() { awk '{print $14+$15}' "/proc/$AGENT/stat"; }
st() { "$BIN" --socket "$WORK/s.sock" status -o json; }
kprobes() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^palisade_events_total\{type="PROCESS_KPROBE"\}/{print $2}' | grep . || echo 0; }
s0=$(st); c0=$(cpu); k0=$(kprobes); t0=$(date +%s.%N)
"$WORK/flood" "$N"
# let the pipeline drain: until the detection count moves by less than 10 in half a second
prev=-1
for _ in $(seq 1200); do
  cur=$(kprobes)
  [ "$prev" -ge 0 ] && [ $((cur - prev)) -lt 10 ] && break; prev=$cur; sleep 0.5
done
t1=$(date +%s.%N); c1=$(cpu); s1=$(st); k1=$(kprobes)
hwm=$(awk '/VmHWM/{print $2}' "/proc/$AGENT/status")
kill "$AGENT"; wait "$AGENT" || true; AGENT=
seen=$((k1 - k0))
d() { echo $(( $(jq "$1" <<<"$s1") - $(jq "$1" <<<"$s0") )); }
rb=$(d .kernel_counters.ringbuf_drops); ex=$(d .export_dropped)
tck=$(getconf CLK_TCK)
cpus=$(awk -v c=$((c1 - c0)) -v t="$tck" 'BEGIN{printf "%.2f", c/t}')
echo "== results"
echo "connect events generated  $N"
echo "detection events exported $seen (tcp_connect, plus whatever else the host did meanwhile)"
echo "kernel ring-buffer drops  $rb"
echo "export queue drops        $ex"
echo "agent CPU                 ${cpus} s; $(awk -v n="$seen" -v c="$cpus" 'BEGIN{ if (c>0) printf "%.0f", n/c; else print "n/a"}') exported events per CPU-second"
echo "agent peak RSS            $((hwm / 1024)) MiB"
echo "wall time (flood+drain)   $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f s", b-a}')"
missing=$(( N - seen ))
if [ "$missing" -gt $(( rb + ex )) ]; then
  echo "FAIL: $missing events missing but only $((rb + ex)) counted as dropped" >&2; exit 1
fi
echo "OK: every event exported or counted as dropped"
