#!/bin/bash
# Remove what install/install.sh put on this node and put back what it replaced, as root.
#
#   uninstall.sh [--state-dir /var/lib/palisade/install] [--purge] [--restart-containerd]
#                [--bpf-pin-dir DIR]
#
# Everything comes from the manifest install.sh wrote in STATE_DIR, so pass the same --state-dir.
#  - containerd config: restored byte for byte (with its mode and owner) from the original kept at
#    install, if nobody changed it since; otherwise only palisade's marked edits are taken out and
#    your later changes stay. containerd reads it at its next start (--restart-containerd: now).
#  - files: removed; a file that was there before install is put back. Config and policy files you
#    edited are kept (and named) unless --purge.
#  - directories install created: removed when empty.
#  - the unit is stopped and disabled first when systemd runs.
#  - pinned BPF programs and maps (enforcement and the process sensor outlive the agent by design)
#    are removed from the kernel: the installed config's bpf_pin_dir, else --bpf-pin-dir, else
#    /sys/fs/bpf/palisade.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR=/var/lib/palisade/install
PURGE=0 RESTART_CTRD=0 PIN_DIR=/sys/fs/bpf/palisade
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) [ -n "${2:-}" ] || usage; STATE_DIR=$2; shift ;;
    --purge) PURGE=1 ;;
    --restart-containerd) RESTART_CTRD=1 ;;
    --bpf-pin-dir) [ -n "${2:-}" ] || usage; PIN_DIR=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "uninstall.sh: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
. "$HERE/lib/manifest.sh"
say() { printf 'uninstall: %s\n' "$*"; }

if [ ! -f "$STATE_DIR/manifest" ]; then
  say "nothing to do: no $STATE_DIR/manifest (palisade was not installed with install.sh, or --state-dir differs)"
  exit 0
fi
manifest_load

# Puts the original of PATH back from the backup install.sh made, keeping its mode, owner and times.
restore_backup() {
  local dest=$1 name=${M_BACKUP[$1]}
  cp -p "$STATE_DIR/backup/$name" "$dest.palisade-restore"
  mv -f "$dest.palisade-restore" "$dest"
  say "restored the original $dest"
}

# --- stop the agent first, so nothing runs from files about to go away
for unit in "${!M_FILE[@]}"; do
  [[ "$unit" == */palisade.service ]] || continue
  if systemd_running; then
    if systemctl disable --now palisade.service; then say "stopped and disabled palisade.service"
    else say "palisade.service could not be disabled (see above); going on"; fi
  else
    say "systemd is not running here: stop a hand-started agent yourself"
  fi
done

# --- pinned BPF state: stays attached after the agent stops (restart, upgrade) until removed here
for f in "${!M_CONF[@]}"; do
  [ -f "$f" ] || continue
  v=$(sed -n 's/^[[:space:]]*bpf_pin_dir[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | tail -n 1)
  [ -z "$v" ] || PIN_DIR=$v
done
case $PIN_DIR in
  none) say "bpf_pin_dir is none: nothing pinned" ;;
  /sys/fs/bpf/?*)
    if [ -d "$PIN_DIR" ]; then
      rm -rf -- "$PIN_DIR"
      say "removed pinned BPF programs and maps under $PIN_DIR: enforcement and observation stop now"
    else
      say "no pinned BPF state at $PIN_DIR"
    fi ;;
  *) say "kept $PIN_DIR: not under /sys/fs/bpf, remove it yourself if it holds palisade's pins" ;;
esac

# --- containerd config
if [ -n "$M_CTRD_PATH" ]; then
  cfg=$M_CTRD_PATH
  if [ ! -e "$cfg" ]; then
    say "containerd config $cfg is gone; nothing to restore there"
  elif [ "$(sha_of "$cfg")" = "$M_CTRD_WRITTEN" ]; then
    if [ "$M_CTRD_ORIG" = absent ]; then
      rm -f "$cfg"
      say "removed $cfg (there was none before install)"
    else
      cp -p "$STATE_DIR/containerd.orig" "$cfg.palisade-restore"
      mv -f "$cfg.palisade-restore" "$cfg"
      [ "$(sha_of "$cfg")" = "$M_CTRD_ORIG" ] || { echo "uninstall.sh: restored $cfg does not match the original's sha256 $M_CTRD_ORIG" >&2; exit 1; }
      say "restored containerd config $cfg byte for byte (sha256 $M_CTRD_ORIG)"
    fi
  else
    python3 "$HERE/lib/containerd_nri.py" revert "$cfg" "$cfg.palisade-restore" >/dev/null
    same_attrs "$cfg" "$cfg.palisade-restore"
    mv -f "$cfg.palisade-restore" "$cfg"
    say "containerd config $cfg changed since install: took out palisade's marked NRI edits only, kept the rest"
  fi
  if [ "$RESTART_CTRD" = 1 ]; then
    if systemd_running; then systemctl restart containerd.service; say "restarted containerd.service"
    else say "--restart-containerd: systemd is not running here; restart containerd yourself"; fi
  else
    say "containerd reads its config at its next start (or rerun with --restart-containerd)"
  fi
fi

# --- files, then the originals they replaced
for f in "${!M_FILE[@]}" "${!M_CONF[@]}"; do
  want=${M_FILE[$f]:-${M_CONF[$f]:-}}
  if [ ! -e "$f" ]; then
    say "already gone: $f"
  elif [ -n "${M_CONF[$f]:-}" ] && [ "$PURGE" = 0 ] && [ "$(sha_of "$f")" != "$want" ]; then
    say "kept $f: you edited it (remove it yourself, or rerun with --purge)"
    continue
  else
    rm -f "$f"
    say "removed $f"
  fi
  [ -z "${M_BACKUP[$f]:-}" ] || restore_backup "$f"
done
if systemd_running; then systemctl daemon-reload; fi

# --- the record itself, then the directories install created (deepest first), if empty
rm -rf "$STATE_DIR/backup" "$STATE_DIR/containerd.orig" "$STATE_DIR/manifest"
while IFS= read -r d; do
  if [ ! -d "$d" ]; then continue; fi
  if rmdir "$d" 2>/dev/null; then say "removed directory $d"; else say "kept directory $d: not empty"; fi
done < <(for d in "${!M_DIR[@]}"; do printf '%s\t%s\n' "$(tr -cd / <<<"$d" | wc -c)" "$d"; done | LC_ALL=C sort -t$'\t' -k1,1nr -k2,2r | cut -f2-)
if [ -d "$STATE_DIR" ]; then say "kept $STATE_DIR: not empty, or it existed before install"; fi
say "done"
