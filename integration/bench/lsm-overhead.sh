#!/bin/bash
# Cost per hooked operation in the kernel lab, all variants in ONE boot (TCG distorts absolute
# times; compare the ratios):
#   none          no BPF at all
#   empty-lsm     do-nothing BPF LSM programs on the same hooks (file_open, path_mknod, path_unlink)
#   outside-N     palisade loaded with N path rules bound to another cgroup (the caller is not
#                 protected: one hash miss per hook)
#   inside-N      the caller is in the protected cgroup: path walk + trie lookups per hook
# for N = 1 and 1000 path rules, and two operations: open (open+close of an existing file) and
# create (open O_CREAT + close + unlink of a new file). The files are not protected by any rule,
# so every operation is fully evaluated and allowed.
#
#   integration/bench/lsm-overhead.sh [--kernel 6.1|6.12] [--iterations N] [--rounds R] [--passes P]
#
# The variants run in turn, P passes over all of them (the host running QEMU is shared and
# noisy), and each figure is the minimum over passes and rounds.
#
# Needs target/release/palisade and target/release/lsm-empty
# (cargo build --release -p palisade -p palisade-integration --bin lsm-empty) and gcc + static glibc.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KERNEL=6.12 IT=20000 RO=5 PASSES=3
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) KERNEL=$2; shift 2 ;;
    --iterations) IT=$2; shift 2 ;;
    --rounds) RO=$2; shift 2 ;;
    --passes) PASSES=$2; shift 2 ;;
    *) echo "lsm-overhead: unknown argument $1" >&2; exit 2 ;;
  esac
done
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
for b in palisade lsm-empty; do
  [ -x "$TARGET/release/$b" ] || { echo "lsm-overhead: $TARGET/release/$b missing (see the header)" >&2; exit 2; }
done
F=$(mktemp -d)
trap 'rm -rf "$F"' EXIT
gcc -O2 -static -Wall -Werror -o "$F/opbench" "$HERE/src/opbench.c"

policy() { # policy NAME RULES
  {
    printf 'apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: %s\n  description: bench\nspec:\n  rules:\n' "$1"
    printf '    - name: etc\n      operations: [write, create, unlink]\n      paths: {prefix: [/etc/]}\n      action: deny\n'
    for i in $(seq 2 "$2"); do
      printf '    - name: r%d\n      operations: [write, create, unlink]\n      paths: {prefix: [/srv/data-%d/]}\n      action: deny\n' "$i" "$i"
    done
  } > "$F/$1.yaml"
}
policy rules-1 1
policy rules-1000 1000

cat > "$F/guest.sh" <<GUEST
#!/bin/sh
set -u
D=/tmp/bench; mkdir -p \$D
CG=/sys/fs/cgroup/bench-protected
measure() { # LABEL CMD-PREFIX...
  label=\$1; shift
  for op in open create; do
    set -- "\$@"
    r=\$("\$@" /lab/opbench \$op \$D $IT $RO) || { echo "FAILED \$label \$op"; exit 1; }
    echo "RESULT \$label \$r"
  done
}
for pass in \$(seq 1 $PASSES); do
measure none
measure empty-lsm lsm-empty --
for n in 1 1000; do
  rm -f /tmp/holder
  palisade run --policy /lab/rules-\$n.yaml --cgroup \$CG -- sh -c 'echo \$\$ > /tmp/holder; exec sleep 100000' 2>/tmp/palisade.log &
  i=0; while [ ! -s /tmp/holder ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
  [ -s /tmp/holder ] || { echo "palisade did not start:"; cat /tmp/palisade.log; exit 1; }
  measure outside-\$n
  measure inside-\$n sh -c 'echo \$\$ > '\$CG'/cgroup.procs && exec "\$@"' inside
  kill \$(cat /tmp/holder); wait
done
done
GUEST

"$ROOT/integration/kernel-lab.sh" --kernel "$KERNEL" --timeout 1800 --files "$F" --bin "$TARGET/release/lsm-empty" \
  -- sh /lab/guest.sh | tee "$F/out"
echo
echo "# ns per operation (min over $PASSES passes x $RO rounds of $IT), kernel $KERNEL under TCG; ratios from this run"
awk '
  /^RESULT/ { k = $2 "/" $3; if (!(k in v) || $4 < v[k]) v[k] = $4; if (!seen[$2]++) order[n++] = $2 }
  END {
    printf "%-14s %10s %8s %8s %10s %8s %8s\n", "variant", "open ns", "x none", "x empty", "create ns", "x none", "x empty"
    for (i = 0; i < n; i++) {
      k = order[i]
      printf "%-14s %10d %8.2f %8.2f %10d %8.2f %8.2f\n", k, v[k "/open"], v[k "/open"] / v["none/open"], v[k "/open"] / v["empty-lsm/open"], v[k "/create"], v[k "/create"] / v["none/create"], v[k "/create"] / v["empty-lsm/create"]
    }
  }' "$F/out"
