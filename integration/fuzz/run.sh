#!/usr/bin/env bash
# Fuzzes every parser of untrusted input for a bounded time (CI entry point).
#
#   integration/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGETs default to every target of fuzz/Cargo.toml
# (policy_parse, nri_stream, nri_message, oci_state). Installs cargo-fuzz if missing, builds
# all targets once, then runs them FUZZ_JOBS at a time (default: one per CPU). Exits 1 if any
# target crashed, hung (an input taking more than 10 s) or ran out of memory (2 GiB), after
# printing the input that did it; prints executions and executions per second per target.
#
# Environment:
#   FUZZ_JOBS       targets run concurrently (default: nproc)
#   FUZZ_SANITIZER  cargo fuzz --sanitizer (default: none; the parsers are safe Rust, so panics,
#                   overflows, hangs and OOM are what there is to find, and ASan halves the rate)
#   FUZZ_OUT        working corpora and logs (default: integration/out/fuzz)
#
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo fuzz passes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
shift || true
if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
jobs=${FUZZ_JOBS:-$(nproc)}
sanitizer=${FUZZ_SANITIZER:-none}
out=${FUZZ_OUT:-$repo/integration/out/fuzz}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd "$repo/fuzz"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
# cargo fuzz defaults to one codegen unit; 16 builds the instrumented dependency tree about
# twice as fast for a few percent of fuzzing throughput.
flags=(--sanitizer "$sanitizer" --codegen-units 16)

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
start=$SECONDS
cargo fuzz build "${flags[@]}"
echo "== built in $((SECONDS - start)) s"

# Extra seeds: the policy library and test policies, read in place (libFuzzer only writes new
# inputs to the first corpus directory, the per-run working copy).
extra_seeds() {
    case $1 in
        policy_parse) echo "$repo/policies $repo/integration/bypass/policies $repo/integration/lab/policies" ;;
    esac
}

# Leaves the exit status in $work/rc (the status of a job reaped by `wait -n` is not kept).
run_one() {
    local t=$1 work=$out/$1 rc=0 dict=()
    rm -rf "$work"
    mkdir -p "$work/corpus"
    if [ -f "$repo/fuzz/dict/$t.dict" ]; then
        dict=(-dict="$repo/fuzz/dict/$t.dict")
    fi
    # shellcheck disable=SC2046 # word splitting of the seed directory list is intended
    cargo fuzz run "${flags[@]}" "$t" "$work/corpus" "$repo/fuzz/corpus/$t" $(extra_seeds "$t") -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
        >"$work/log" 2>&1 || rc=$?
    echo "$rc" >"$work/rc"
}

mkdir -p "$out"
start=$SECONDS
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    echo "== fuzzing $t for $secs s"
    run_one "$t" &
done
wait

failed=0
printf '%-14s %12s %10s %8s\n' target executions exec/s corpus
for t in "${targets[@]}"; do
    log=$out/$t/log
    if [ "$(cat "$out/$t/rc")" = 0 ]; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        corpus=$(find "$out/$t/corpus" -type f | wc -l)
        printf '%-14s %12s %10s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus"
    else
        failed=1
        echo "!! $t FAILED; last lines of $log:"
        tail -n 40 "$log" | sed 's/^/   /'
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        if [ -n "$crash" ]; then
            # cargo fuzz writes artifacts relative to fuzz/
            case $crash in /*) ;; *) crash=$repo/fuzz/${crash#./} ;; esac
            echo "!! $t crash input: $crash"
            echo "!! reproduce: cd $repo/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $t $crash"
        fi
    fi
done
echo "== fuzzed ${#targets[@]} targets in $((SECONDS - start)) s"
exit $failed
