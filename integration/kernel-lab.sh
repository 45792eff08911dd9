#!/bin/bash
# Kernel lab: boot a Debian cloud kernel under QEMU/TCG and run one command as root in it.
#
#   integration/kernel-lab.sh [--kernel 6.1|6.12] [--files DIR] [--mem MB] [--timeout SECS]
#                             [--lsm LIST] [--modules m1,m2] [--bin PATH]... [--smp N]
#                             [--append ARGS] [--keep] -- CMD...
#
# CMD (joined with spaces) runs via /bin/sh -c in /lab, which holds a copy of DIR. Its output
# streams to stdout and this script exits with CMD's exit status, read from a marker line that
# the guest prints after CMD returns. No marker (kernel panic, oops, init died) or the hard
# timeout -> non-zero exit with a "kernel-lab:" message on stderr. See kernel-lab/README.md.
#
# Binaries copied into the guest's /usr/local/bin (with the shared libs ldd lists and the loader):
# target/release/palisade when it exists, each --bin PATH, and each path in $PALISADE_LAB_BINS
# (space or colon separated). Kernels come from kernel-lab/fetch-kernels.sh (run on demand).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${PALISADE_LAB_CACHE:-/var/cache/palisade-lab}

KERNEL=6.12 FILES='' MEM=1024 TIMEOUT=300 LSM='' MODULES='' SMP=2 APPEND='' KEEP=0
BINS=()
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
need() { [ $# -ge 2 ] || { echo "kernel-lab: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) need "$@"; KERNEL=$2; shift 2 ;;
    --files) need "$@"; FILES=$2; shift 2 ;;
    --mem) need "$@"; MEM=$2; shift 2 ;;
    --timeout) need "$@"; TIMEOUT=$2; shift 2 ;;
    --lsm) need "$@"; LSM=$2; shift 2 ;;
    --modules) need "$@"; MODULES=$2; shift 2 ;;
    --bin) need "$@"; BINS+=("$2"); shift 2 ;;
    --smp) need "$@"; SMP=$2; shift 2 ;;
    --append) need "$@"; APPEND=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "kernel-lab: unknown argument '$1'" >&2; usage ;;
  esac
done
[ $# -gt 0 ] || { echo "kernel-lab: no command given after --" >&2; usage; }
CMD="$*"

log() { echo "kernel-lab: $*" >&2; }
die() { log "$*"; exit 1; }
case $KERNEL in 6.1|6.12) ;; *) die "--kernel must be 6.1 or 6.12, not '$KERNEL'" ;; esac
[ -z "$FILES" ] || [ -d "$FILES" ] || die "--files $FILES is not a directory"
[ "$(id -u)" = 0 ] || die "must run as root (the initramfs needs a /dev/console node and root-owned files)"

# Kernel: fetch on demand (quick no-op when cached).
KDIR=$CACHE/$KERNEL
if [ ! -e "$KDIR/.complete" ]; then
  "$HERE/kernel-lab/fetch-kernels.sh" "$KERNEL" >&2 || die "fetch-kernels.sh $KERNEL failed"
fi
IMAGES=("$KDIR"/boot/vmlinuz-*)
VMLINUZ=${IMAGES[0]}
[ -f "$VMLINUZ" ] || die "no vmlinuz in $KDIR/boot"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$KDIR/lib/modules/$KVER
[ -d "$MODDIR" ] || MODDIR=$KDIR/usr/lib/modules/$KVER
for t in qemu-system-x86_64 cpio busybox; do
  command -v "$t" >/dev/null || die "$t missing: run integration/kernel-lab/fetch-kernels.sh as root"
done
BUSYBOX=$(command -v busybox)
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamic; install busybox-static"

# LSM list: --lsm LIST wins (--lsm default: pass no lsm= at all, the kernel's own choice);
# otherwise the kernel's built-in CONFIG_LSM with bpf added if missing, so that BPF LSM is active
# on every lab kernel by default.
if [ "$LSM" = default ]; then
  LSM_ARG=
elif [ -n "$LSM" ]; then
  LSM_ARG="lsm=$LSM"
else
  LSM=$(sed -n 's/^CONFIG_LSM="\(.*\)"$/\1/p' "$KDIR"/boot/config-"$KVER")
  [ -n "$LSM" ] || die "no CONFIG_LSM in $KDIR/boot/config-$KVER"
  case ",$LSM," in *,bpf,*) ;; *) LSM=$LSM,bpf ;; esac
  LSM_ARG="lsm=$LSM"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kernel-lab.XXXXXX")
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  [ -s "$WORK/qpid" ] && kill "$(cat "$WORK/qpid")" 2>/dev/null
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,proc,sys,dev,tmp,run,root,lab,mnt,var/tmp,var/lib,.lab/modules}
cp "$BUSYBOX" "$R/bin/busybox"
mknod -m 600 "$R/dev/console" c 5 1   # the kernel opens it for /init's stdio before devtmpfs exists
ln -s busybox "$R/bin/sh"

# copy_bin PATH: the binary into /usr/local/bin plus its shared libs and loader at their paths.
copy_bin() {
  local src=$1 lib
  if [ ! -f "$src" ] || [ ! -x "$src" ]; then die "binary $src does not exist or is not executable"; fi
  cp -L "$src" "$R/usr/local/bin/"
  ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$R$(dirname "$lib")"
    cp -Ln "$lib" "$R$lib"
  done
}
PALISADE=${CARGO_TARGET_DIR:-$ROOT/target}/release/palisade
[ -x "$PALISADE" ] && copy_bin "$PALISADE"
for b in "${BINS[@]}"; do copy_bin "$b"; done
for b in $(echo "${PALISADE_LAB_BINS:-}" | tr ':' ' '); do copy_bin "$b"; done

[ -n "$FILES" ] && cp -a "$FILES"/. "$R/lab/"

# Modules: each named module and what it depends on (read from the .modinfo section, so no kmod
# is needed on the host), decompressed, in load order.
MODLIST=$R/.lab/modules/order
: > "$MODLIST"
SEEN=" "
add_module() {
  local name=$1 file dep ko
  case $SEEN in *" $name "*) return 0 ;; esac
  SEEN="$SEEN$name "
  file=$(find "$MODDIR" \( -name "$name.ko" -o -name "$name.ko.xz" -o -name "${name//_/-}.ko" \
          -o -name "${name//_/-}.ko.xz" \) | head -n1)
  [ -n "$file" ] || die "module $name not found under $MODDIR"
  ko=$R/.lab/modules/$name.ko
  case $file in *.xz) xz -dc "$file" > "$ko" ;; *) cp "$file" "$ko" ;; esac
  for dep in $(tr '\0' '\n' < "$ko" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do
    add_module "$dep"
  done
  echo "$name" >> "$MODLIST"
}
for m in $(echo "$MODULES" | tr ',' ' '); do add_module "$m"; done

# The command and a per-run nonce for the marker lines, so output cannot forge them.
NONCE=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$CMD" > "$R/.lab/cmd"
echo "$NONCE" > "$R/.lab/nonce"
cp "$HERE/kernel-lab/init" "$R/init"
cp "$HERE/kernel-lab/init2" "$R/.lab/init2"
chmod 755 "$R/init" "$R/.lab/init2"
(cd "$R" && find . -print0 | cpio --null -o -H newc --quiet) > "$WORK/initrd.cpio"

# console=ttyS0: everything (kernel messages and CMD output) goes to QEMU's stdio.
# panic=-1 + -no-reboot: a panic ends QEMU at once; oops=panic makes any oops fatal too.
KARGS="console=ttyS0 quiet panic=-1 oops=panic acpi=off random.trust_cpu=on $LSM_ARG $APPEND"
START=$EPOCHREALTIME
STARTED='' RC='' SAW_END=0
log "kernel $KVER, ${LSM_ARG:-no lsm= (kernel default)}, mem ${MEM}M, timeout ${TIMEOUT}s"
# QEMU runs under timeout(1) (which forwards our TERM to it on cleanup); its pid goes to a file.
exec 3< <(timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m "$MEM" -smp "$SMP" \
  -nographic -no-reboot -nic none -kernel "$VMLINUZ" -initrd "$WORK/initrd.cpio" \
  -append "$KARGS" </dev/null 2>&1 & echo $! > "$WORK/qpid"; rc=0; wait $! || rc=$?; echo "@@QEMU-EXIT:$NONCE:$rc@@")
QEXIT='' ENDED=''
# Guest output before the start marker is the boot log: kept in a file and shown only if the
# command never starts. Output after the exit marker (shutdown) goes to stderr.
while IFS= read -r line <&3 || [ -n "$line" ]; do
  line=${line%$'\r'}
  case $line in
    *"@@LAB-START:$NONCE@@"*) STARTED=$EPOCHREALTIME; continue ;;
    *"@@LAB-EXIT:$NONCE:"*)
      RC=${line##*@@LAB-EXIT:"$NONCE":}; RC=${RC%%@@*}; SAW_END=1; ENDED=$EPOCHREALTIME
      line=${line%%@@LAB-EXIT:*}; [ -n "$line" ] && printf '%s\n' "$line"
      continue ;;
    *"@@QEMU-EXIT:$NONCE:"*) QEXIT=${line##*@@QEMU-EXIT:"$NONCE":}; QEXIT=${QEXIT%%@@*}; continue ;;
  esac
  if [ -z "$STARTED" ]; then
    printf '%s\n' "$line" >> "$WORK/boot.log"
  elif [ "$SAW_END" = 1 ]; then
    case $line in *"reboot: Restarting system"*) ;; *) printf '%s\n' "$line" >&2 ;; esac
  else
    printf '%s\n' "$line"
  fi
done
exec 3<&-
rm -f "$WORK/qpid"
END=$EPOCHREALTIME

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
if [ -n "$STARTED" ]; then
  log "boot-to-command $(secs "$START" "$STARTED")s, command $(secs "$STARTED" "${ENDED:-$END}")s, total $(secs "$START" "$END")s"
else
  [ -s "$WORK/boot.log" ] && { log "boot log:"; cat "$WORK/boot.log" >&2; }
fi
if [ "$QEXIT" = 124 ] || [ "$QEXIT" = 137 ]; then
  die "hard timeout: QEMU killed after ${TIMEOUT}s$([ -n "$STARTED" ] || echo ' (guest never reached the command)')"
fi
if [ "$SAW_END" != 1 ]; then
  if [ -z "$STARTED" ]; then die "guest never reached the command (boot failed or panicked; qemu exit ${QEXIT:-?})"; fi
  die "guest ended without reporting the command's exit status (kernel panic/oops or init died; qemu exit ${QEXIT:-?})"
fi
case $RC in ''|*[!0-9]*) die "malformed exit status '$RC' from the guest" ;; esac
exit "$RC"
