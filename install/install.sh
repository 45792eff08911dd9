#!/bin/bash
# Install palisade on this node, as root. Safe to run again: a run that finds everything in place
# changes nothing (and says so). install/uninstall.sh puts the node back as it was.
#
#   install.sh [--prefix /usr/local] [--config-dir /etc/palisade]
#              [--containerd-config /etc/containerd/config.toml] [--no-containerd]
#              [--hooks-dir /usr/share/containers/oci/hooks.d] [--no-hooks]
#              [--systemd-dir /etc/systemd/system] [--state-dir /var/lib/palisade/install]
#              [--binary PATH] [--enable] [--restart-containerd]
#
# What it puts where (each line is printed as it happens):
#   PREFIX/bin/palisade                 the binary (default: target/release/palisade of this tree)
#   CONFIG_DIR/config                   agent settings (install/config/palisade.toml), never overwritten once edited
#   CONFIG_DIR/policies/*.yaml          the policy library (policies/*.yaml of this tree, if any)
#   SYSTEMD_DIR/palisade.service        the unit; enabled and started only with --enable, and only under systemd
#   HOOKS_DIR/palisade.json             OCI hook for podman / CRI-O: `palisade oci-hook` at createRuntime for
#                                       containers annotated palisade.dev/policies
#   containerd config                   NRI enabled, the rest of the file untouched (install/lib/containerd_nri.py);
#                                       the original is kept so that uninstall restores it byte for byte.
#                                       containerd reads it at its next start; --restart-containerd restarts it now.
#   STATE_DIR                           the manifest of all of the above and the originals it replaced
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"

PREFIX=/usr/local
CONFIG_DIR=/etc/palisade
CTRD_CONFIG=/etc/containerd/config.toml
HOOKS_DIR=/usr/share/containers/oci/hooks.d
SYSTEMD_DIR=/etc/systemd/system
STATE_DIR=/var/lib/palisade/install
BINARY="$REPO/target/release/palisade"
DO_CONTAINERD=1 DO_HOOKS=1 ENABLE=0 RESTART_CTRD=0

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit "${1:-2}"; }
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then echo "install.sh: $1 needs a value" >&2; usage; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) need "$@"; PREFIX=$2; shift ;;
    --config-dir) need "$@"; CONFIG_DIR=$2; shift ;;
    --containerd-config) need "$@"; CTRD_CONFIG=$2; shift ;;
    --hooks-dir) need "$@"; HOOKS_DIR=$2; shift ;;
    --systemd-dir) need "$@"; SYSTEMD_DIR=$2; shift ;;
    --state-dir) need "$@"; STATE_DIR=$2; shift ;;
    --binary) need "$@"; BINARY=$2; shift ;;
    --no-containerd) DO_CONTAINERD=0 ;;
    --no-hooks) DO_HOOKS=0 ;;
    --enable) ENABLE=1 ;;
    --restart-containerd) RESTART_CTRD=1 ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
for v in PREFIX CONFIG_DIR CTRD_CONFIG HOOKS_DIR SYSTEMD_DIR STATE_DIR; do
  case "${!v}" in /*) ;; *) echo "install.sh: ${v,,} must be an absolute path: ${!v}" >&2; exit 2 ;; esac
done
if [ ! -f "$BINARY" ] || [ ! -x "$BINARY" ]; then
  echo "install.sh: no palisade binary at $BINARY: build it (cargo build --release -p palisade) or pass --binary PATH" >&2
  exit 1
fi
[ "$DO_CONTAINERD" = 0 ] || python3 -c 'import tomllib' 2>/dev/null || {
  echo "install.sh: python3 >= 3.11 (tomllib) is needed to edit $CTRD_CONFIG safely; or pass --no-containerd" >&2
  exit 1
}

. "$HERE/lib/manifest.sh"
say() { printf 'install: %s\n' "$*"; }
CHANGED=0
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Creates DIR and any missing parents, remembering each one created so uninstall can remove it.
make_dir() {
  local d=$1 missing=()
  while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do
    mkdir -m "${2:-0755}" "$d"
    M_DIR[$d]=1 CHANGED=1
    say "created directory $d"
  done
}

# Keeps the original of a file that was there before us, once.
backup_foreign() {
  local dest=$1 name
  [ -e "$dest" ] && [ -z "${M_BACKUP[$dest]:-}" ] || return 0
  name=$(printf '%s' "$dest" | sha256sum | cut -c1-32)
  [ -d "$STATE_DIR/backup" ] || mkdir -m 0700 "$STATE_DIR/backup"
  cp -p "$dest" "$STATE_DIR/backup/$name"
  M_BACKUP[$dest]=$name
  say "kept the existing $dest (restored by uninstall)"
}

# put SRC DEST MODE file|conffile: installs SRC as DEST unless it is there already.
put() {
  local src=$1 dest=$2 mode=$3 kind=$4 new cur ours
  new=$(sha_of "$src")
  if [ "$kind" = conffile ]; then ours=${M_CONF[$dest]:-}; else ours=${M_FILE[$dest]:-}; fi
  if [ -e "$dest" ]; then
    cur=$(sha_of "$dest")
    if [ "$cur" = "$new" ] && [ -n "$ours" ]; then
      if [ "$(stat -c %a "$dest")" != "${mode#0}" ]; then chmod "$mode" "$dest"; CHANGED=1; say "fixed mode of $dest"; fi
      say "unchanged $dest"
      return
    fi
    if [ "$kind" = conffile ] && { [ -z "$ours" ] || [ "$cur" != "$ours" ]; }; then
      say "left $dest as it is (edited by you or not ours); the shipped version is $src"
      return
    fi
    [ -n "$ours" ] || backup_foreign "$dest"
  fi
  make_dir "$(dirname "$dest")"
  install -m "$mode" "$src" "$dest.palisade-new"
  mv -f "$dest.palisade-new" "$dest"
  if [ "$kind" = conffile ]; then M_CONF[$dest]=$new; else M_FILE[$dest]=$new; fi
  CHANGED=1
  say "installed $dest"
}

manifest_load
BIN="$PREFIX/bin/palisade"

# --- containerd, first part: work out the edit (and refuse) before anything is written
NRI_SOCKET=/var/run/nri/nri.sock
if [ "$DO_CONTAINERD" = 1 ]; then
  if [ -n "$M_CTRD_PATH" ] && [ "$M_CTRD_PATH" != "$CTRD_CONFIG" ]; then
    echo "install.sh: palisade already edited $M_CTRD_PATH; run uninstall.sh before switching to $CTRD_CONFIG" >&2
    exit 1
  fi
  NRI_SOCKET=$(python3 "$HERE/lib/containerd_nri.py" inspect "$CTRD_CONFIG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["socket_path"])')
  action=$(python3 "$HERE/lib/containerd_nri.py" enable "$CTRD_CONFIG" "$WORK/containerd.toml")
  if [ "$action" = unchanged ]; then
    say "containerd config $CTRD_CONFIG: NRI already enabled, left as it is"
  else
    if command -v containerd >/dev/null; then
      # containerd itself must accept the result and see NRI enabled
      containerd --config "$WORK/containerd.toml" config dump >"$WORK/dump" 2>&1 || {
        echo "install.sh: containerd rejects the edited config, nothing written:" >&2; cat "$WORK/dump" >&2; exit 1; }
      python3 - "$WORK/dump" <<'EOF' || { echo "install.sh: containerd does not see NRI enabled in the edited config; nothing written" >&2; exit 1; }
import sys, tomllib
nri = tomllib.load(open(sys.argv[1], "rb"))["plugins"]["io.containerd.nri.v1.nri"]
sys.exit(0 if nri["disable"] is False and nri["disable_connections"] is False else 1)
EOF
    fi
  fi
fi

make_dir "$STATE_DIR" 0700

# --- containerd, second part: keep the original, then write
if [ "$DO_CONTAINERD" = 0 ]; then
  say "containerd: skipped (--no-containerd)"
elif [ "$action" != unchanged ]; then
  if [ -z "$M_CTRD_PATH" ]; then
    if [ -e "$CTRD_CONFIG" ]; then
      cp -p "$CTRD_CONFIG" "$STATE_DIR/containerd.orig"
      M_CTRD_ORIG=$(sha_of "$STATE_DIR/containerd.orig")
      [ "$M_CTRD_ORIG" = "$(sha_of "$CTRD_CONFIG")" ] || { echo "install.sh: $CTRD_CONFIG changed while being backed up" >&2; exit 1; }
    else
      M_CTRD_ORIG=absent
    fi
    M_CTRD_PATH=$CTRD_CONFIG
  fi
  make_dir "$(dirname "$CTRD_CONFIG")"
  tmp="$CTRD_CONFIG.palisade-new"
  cp "$WORK/containerd.toml" "$tmp"
  if [ -e "$CTRD_CONFIG" ]; then same_attrs "$CTRD_CONFIG" "$tmp"; else chmod 0644 "$tmp"; fi
  mv -f "$tmp" "$CTRD_CONFIG"
  # The first write is the one uninstall compares with; a later re-enable (after the admin
  # removed our edit) must not make uninstall restore the original over their other changes.
  [ -n "$M_CTRD_WRITTEN" ] || M_CTRD_WRITTEN=$(sha_of "$CTRD_CONFIG")
  manifest_save
  CHANGED=1
  say "containerd config $CTRD_CONFIG: NRI $action (original kept in $STATE_DIR)"
  [ "$RESTART_CTRD" = 1 ] ||
    say "containerd reads this at its next start; restart it when convenient (or rerun with --restart-containerd)"
fi
if [ "$RESTART_CTRD" = 1 ]; then
  if systemd_running; then
    systemctl restart containerd.service
    say "restarted containerd.service"
  else
    say "--restart-containerd: systemd is not running here; restart containerd yourself"
  fi
fi

# --- files
put "$BINARY" "$BIN" 0755 file

sed -e "s|^policy_dir = .*|policy_dir = \"$CONFIG_DIR/policies\"|" \
    -e "s|^nri_socket = .*|nri_socket = \"$NRI_SOCKET\"|" \
    -e "s|/etc/containerd/config.toml|$CTRD_CONFIG|" \
    "$HERE/config/palisade.toml" >"$WORK/config"
put "$WORK/config" "$CONFIG_DIR/config" 0644 conffile

make_dir "$CONFIG_DIR/policies"
shopt -s nullglob
policies=("$REPO"/policies/*.yaml)
[ ${#policies[@]} -gt 0 ] || say "no policies/*.yaml next to this script: $CONFIG_DIR/policies is empty"
for p in "${policies[@]}"; do put "$p" "$CONFIG_DIR/policies/$(basename "$p")" 0644 conffile; done

sed -e "s|@BINARY@|$BIN|" -e "s|@CONFIG@|$CONFIG_DIR/config|" "$HERE/systemd/palisade.service" >"$WORK/palisade.service"
unit_before=${M_FILE[$SYSTEMD_DIR/palisade.service]:-}
put "$WORK/palisade.service" "$SYSTEMD_DIR/palisade.service" 0644 file

if [ "$DO_HOOKS" = 1 ]; then
  python3 - "$HERE/hooks.d/palisade.json" "$BIN" >"$WORK/palisade.json" <<'EOF'
import json, sys
hook = json.load(open(sys.argv[1]))
hook["hook"]["path"] = sys.argv[2]  # oci-hooks(5): must be absolute and exist when the hook is loaded
print(json.dumps(hook, indent=2))
EOF
  put "$WORK/palisade.json" "$HOOKS_DIR/palisade.json" 0644 file
else
  say "hooks.d: skipped (--no-hooks)"
fi
manifest_save

# --- service manager
if systemd_running; then
  if [ "$unit_before" != "${M_FILE[$SYSTEMD_DIR/palisade.service]}" ]; then systemctl daemon-reload; say "systemctl daemon-reload"; fi
  if [ "$ENABLE" = 1 ]; then systemctl enable --now palisade.service; say "enabled and started palisade.service"
  else say "start the agent with: systemctl enable --now palisade.service"; fi
else
  say "systemd is not running on this machine (no /run/systemd/system): $SYSTEMD_DIR/palisade.service is installed, nothing was enabled or started"
  [ "$ENABLE" = 0 ] || say "--enable ignored: there is no systemd to enable the unit with"
  say "start the agent by hand with: $BIN agent --config $CONFIG_DIR/config"
fi
if [ "$CHANGED" = 0 ]; then say "done: everything was already in place, nothing changed"; else say "done (record: $STATE_DIR/manifest)"; fi
