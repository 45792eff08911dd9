#!/bin/sh
# Builds the bypass-suite programs into ${BYPASS_OUT:-<target dir>/bypass}:
#   bypass              static attack program (runs in the lab guest, which has no libc)
#   bypass-payload-dyn  dynamically linked exec payload for the ld.so attack (pass it to
#                       kernel-lab.sh with --bin so its libc and loader are copied too)
# Needs gcc and the static glibc (libc6-dev on Debian). Prints the output directory.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${BYPASS_OUT:-${CARGO_TARGET_DIR:-$ROOT/target}/bypass}
mkdir -p "$OUT"
cc() { gcc -O2 -Wall -Wextra -Werror -std=gnu11 "$@"; }
cc -static -o "$OUT/bypass" "$HERE"/src/main.c "$HERE"/src/attacks.c \
  "$HERE"/src/fixture.c "$HERE"/src/uring.c
cc -o "$OUT/bypass-payload-dyn" "$HERE"/src/payload.c
echo "$OUT"
