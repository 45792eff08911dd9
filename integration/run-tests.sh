#!/bin/bash
# palisade's whole test suite, as root: unit tests, host end-to-end tests against real BPF and
# real containerd, and the enforcement suites inside the kernel lab on both kernels.
# Nothing here skips: a missing prerequisite is a failure with a message saying what to run.
#   integration/run-tests.sh            # everything
#   PALISADE_LAB_KERNELS="6.12" integration/run-tests.sh   # fewer lab kernels while developing
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "$(id -u)" = 0 ] || { echo "run-tests.sh: must run as root (BPF, cgroups, containerd)" >&2; exit 1; }
export CARGO_TERM_COLOR=never
step() { printf '\n==== %s (%s)\n' "$*" "$(date -u +%T)"; }

step "build (release)"
cargo build --workspace --release --all-targets
export PALISADE_BIN="$PWD/target/release/palisade"

step "containerd"
integration/containerd/start.sh
trap 'integration/containerd/stop.sh || true' EXIT

step "cargo test (unit + host end-to-end)"
cargo test --workspace --release -- --test-threads=2

for k in ${PALISADE_LAB_KERNELS:-6.1 6.12}; do
  step "kernel lab $k: enforcement suite (bpf_lsm)"
  integration/lab/run.sh --kernel "$k"
done
step "kernel lab 6.12 without bpf in the LSM list: fmod_ret fallback"
integration/lab/run.sh --kernel 6.12 --lsm lockdown,capability,landlock,yama -- --skip-suite
step "fuzzing: every parser of untrusted input, 60 s per target"
integration/fuzz/run.sh 60

step "all suites passed"
