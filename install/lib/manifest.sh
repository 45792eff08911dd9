# Shared by install.sh and uninstall.sh (sourced): the record of what install.sh put on the node.
#
# $STATE_DIR/manifest is a sorted, tab-separated list, one entry per line:
#   dir        PATH                         a directory install.sh created
#   file       PATH  SHA256                 a file it installed (replaced on upgrade)
#   conffile   PATH  SHA256                 a file it installed that the admin may edit (kept if edited)
#   backup     PATH  NAME                   PATH existed before; its original is $STATE_DIR/backup/NAME
#   containerd PATH  ORIGINAL  WRITTEN      the containerd config it edited: ORIGINAL is the sha256 of
#                                           the file before (or "absent"), kept byte for byte in
#                                           $STATE_DIR/containerd.orig; WRITTEN the sha256 it wrote
# Sorted and free of timestamps, so that an install that changes nothing rewrites it identically.

declare -A M_DIR=() M_FILE=() M_CONF=() M_BACKUP=()
M_CTRD_PATH="" M_CTRD_ORIG="" M_CTRD_WRITTEN=""

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

manifest_load() {
  local f="$STATE_DIR/manifest" kind path a b
  [ -f "$f" ] || return 0
  while IFS=$'\t' read -r kind path a b; do
    case "$kind" in
      dir) M_DIR[$path]=1 ;;
      file) M_FILE[$path]=$a ;;
      conffile) M_CONF[$path]=$a ;;
      backup) M_BACKUP[$path]=$a ;;
      containerd) M_CTRD_PATH=$path M_CTRD_ORIG=$a M_CTRD_WRITTEN=$b ;;
      *) echo "manifest: unknown entry '$kind' in $f" >&2; return 1 ;;
    esac
  done <"$f"
}

manifest_save() {
  local tmp="$STATE_DIR/manifest.tmp" p
  {
    for p in "${!M_DIR[@]}"; do printf 'dir\t%s\n' "$p"; done
    for p in "${!M_FILE[@]}"; do printf 'file\t%s\t%s\n' "$p" "${M_FILE[$p]}"; done
    for p in "${!M_CONF[@]}"; do printf 'conffile\t%s\t%s\n' "$p" "${M_CONF[$p]}"; done
    for p in "${!M_BACKUP[@]}"; do printf 'backup\t%s\t%s\n' "$p" "${M_BACKUP[$p]}"; done
    [ -z "$M_CTRD_PATH" ] || printf 'containerd\t%s\t%s\t%s\n' "$M_CTRD_PATH" "$M_CTRD_ORIG" "$M_CTRD_WRITTEN"
  } | LC_ALL=C sort >"$tmp"
  # an unchanged record is left alone, file times included
  if cmp -s "$tmp" "$STATE_DIR/manifest"; then rm -f "$tmp"; else mv "$tmp" "$STATE_DIR/manifest"; fi
}

# True when systemd is the running init (not merely installed).
systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

# Copies mode and owner of $1 onto $2 (both must exist).
same_attrs() { chmod --reference="$1" "$2" && chown --reference="$1" "$2"; }
