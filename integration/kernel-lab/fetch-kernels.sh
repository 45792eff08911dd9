#!/bin/bash
# Fetch the Debian cloud kernels the kernel lab boots, by package name.
#
#   fetch-kernels.sh [--update] [6.1|6.12|all]      (default: all)
#
# 6.1  = bookworm's linux-image-cloud-amd64 dependency (linux-image-6.1.*-cloud-amd64)
# 6.12 = trixie's linux-image-cloud-amd64 dependency, read through an apt side list
#        (own sources.list and lists dir; used only with `apt-get download`, never to install).
#
# Each kernel is unpacked with `dpkg -x` into $PALISADE_LAB_CACHE/<package>/ and
# $PALISADE_LAB_CACHE/<series> is a symlink to the current one. The version is resolved from the
# apt lists on every run (no network when the lists exist and the package is cached); --update
# refreshes the lists first. Installs qemu-system-x86, cpio and busybox-static when missing.
# Prints one line per series: "<series> <dir>".
set -euo pipefail

CACHE=${PALISADE_LAB_CACHE:-/var/cache/palisade-lab}
APT=(-o DPkg::Lock::Timeout=600)
UPDATE=0
SERIES=()
for a in "$@"; do
  case $a in
    --update) UPDATE=1 ;;
    6.1|6.12) SERIES+=("$a") ;;
    all) SERIES+=(6.1 6.12) ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "fetch-kernels: unknown argument '$a'" >&2; exit 2 ;;
  esac
done
[ ${#SERIES[@]} -gt 0 ] || SERIES=(6.1 6.12)

log() { echo "fetch-kernels: $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (apt-get)"

# Host tools the lab needs. `apt-get update` runs at most once per invocation.
updated=0
apt_update() {
  [ $updated = 1 ] && return 0
  apt-get "${APT[@]}" update -qq >&2
  updated=1
}
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v cpio >/dev/null || missing+=(cpio)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
[ "$UPDATE" = 1 ] && apt_update

mkdir -p "$CACHE"
# Several lab runs may start at once (shared machine, parallel tests): one fetch at a time.
exec 9> "$CACHE/.lock"
flock 9

# apt options for the trixie side list (state kept in the cache so it survives between runs).
SIDE=$CACHE/apt-trixie
side_opts() {
  echo "-o Dir::Etc::sourcelist=$SIDE/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$SIDE/lists"
}
side_setup() {
  mkdir -p "$SIDE/lists/partial"
  cat > "$SIDE/sources.list" <<'SRC'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security trixie-security main
SRC
  if [ "$UPDATE" = 1 ] || ! ls "$SIDE/lists/"*_Packages* >/dev/null 2>&1; then
    log "updating the trixie side list"
    # shellcheck disable=SC2046
    apt-get "${APT[@]}" $(side_opts) update -qq >&2
  fi
}

# resolve <series> -> prints the versioned image package name, e.g. linux-image-6.1.0-41-cloud-amd64
resolve() {
  local series=$1 opts=() pkg
  if [ "$series" = 6.12 ]; then side_setup; read -ra opts <<<"$(side_opts)"; fi
  pkg=$(apt-cache "${APT[@]}" "${opts[@]}" depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)
  if [ -z "$pkg" ] && [ "$series" = 6.1 ] && [ $updated = 0 ]; then
    apt_update   # brand-new machine: no bookworm lists yet
    pkg=$(apt-cache "${APT[@]}" depends linux-image-cloud-amd64 2>/dev/null |
          sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)
  fi
  [ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64 for $series"
  case $pkg in
    linux-image-"$series".*) ;;
    *) die "linux-image-cloud-amd64 for $series resolves to $pkg, not a $series kernel" ;;
  esac
  echo "$pkg"
}

fetch() {
  local series=$1 pkg dir opts=() tmp
  pkg=$(resolve "$series")
  dir=$CACHE/$pkg
  if [ ! -e "$dir/.complete" ]; then
    [ "$series" = 6.12 ] && read -ra opts <<<"$(side_opts)"
    tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
    chown _apt "$tmp" 2>/dev/null || true   # lets apt download sandboxed (no warning)
    log "downloading $pkg"
    (cd "$tmp" && apt-get "${APT[@]}" "${opts[@]}" download -qq "$pkg" >&2) ||
      { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    rm -rf "$dir.partial"
    dpkg -x "$tmp"/"$pkg"_*.deb "$dir.partial"
    rm -rf "$tmp"
    ls "$dir.partial"/boot/vmlinuz-* >/dev/null 2>&1 || die "$pkg has no boot/vmlinuz-*"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    touch "$dir/.complete"
  fi
  ln -sfn "$pkg" "$CACHE/$series"
  echo "$series $dir"
}

for s in "${SERIES[@]}"; do fetch "$s"; done
