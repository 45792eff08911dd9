#!/bin/bash
# End-to-end test of install/install.sh and install/uninstall.sh, as root, on this host.
#
#   integration/install/test-install.sh      (PALISADE_BIN: the binary to install; default target/release/palisade)
#
# Each case installs into a sandbox (prefix, config dir, hooks dir, unit dir, state dir and a
# containerd config with the user's own content, all under one temp dir) and proves, by hashing
# every file, mode and owner in the sandbox:
#   - the fresh install did its job (NRI enabled as containerd itself reads the file, the user's
#     lines all still there, hook file pointing at the installed binary, unit rendered);
#   - a second install changes nothing (same hashes, and it says so);
#   - uninstall gives back the original tree: the containerd config byte for byte, no leftovers.
# Then the same against the real /etc/containerd/config.toml when it exists (restored afterwards
# whatever happens), and the installed hooks.d file through real podman: it loads, it matches a
# container annotated palisade.dev/policies (and runs at createRuntime with the OCI state), and
# it does not match others.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
INSTALL="$REPO/install/install.sh"
UNINSTALL="$REPO/install/uninstall.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { printf '\n=== %s\n' "$*"; }
[ "$(id -u)" = 0 ] || fail "must run as root (install.sh writes root-owned files; podman needs root)"
BIN_SRC="${PALISADE_BIN:-$REPO/target/release/palisade}"
[ -x "$BIN_SRC" ] || fail "no palisade binary at $BIN_SRC: cargo build --release -p palisade"
command -v containerd >/dev/null || fail "containerd missing: run integration/containerd/setup.sh"
command -v podman >/dev/null || fail "podman missing: run integration/containerd/setup.sh --with-podman"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing: apt-get install systemd (it need not run)"

T="$(mktemp -d /tmp/palisade-install-test.XXXXXX)"
REAL=/etc/containerd/config.toml
REAL_SAVED=""
cleanup() {
  if [ -n "$REAL_SAVED" ]; then cp -p "$REAL_SAVED" "$REAL"; fi
  # only this test's own podman store, never the host's default one
  if [ ${#PODMAN_ARGS[@]} -gt 0 ]; then podman "${PODMAN_ARGS[@]}" rm -af >/dev/null 2>&1 || true; fi
  rm -rf "$T"
}
PODMAN_ARGS=()
trap cleanup EXIT
# The binary is copied once: the one in target/ may be rebuilt while this runs.
cp "$BIN_SRC" "$T/palisade"

# Every path, type, mode, owner and content hash under DIR, one line each, sorted.
snapshot() {
  # (files with their mtime: a restored original must keep it; directory mtimes move with entries)
  (cd "$1" && { find . ! -type f -printf '%y %m %u:%g %p %l\n'; find . -type f -printf '%y %m %u:%g %T@ %p\n'; } | LC_ALL=C sort &&
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
digest() { snapshot "$1" | tee "$T/last-snapshot" | sha256sum | cut -c1-16; }

# sandbox_args DIR [CONTAINERD_CONFIG]: install.sh flags that keep everything under DIR
sandbox_args() {
  printf '%s\n' --prefix "$1/usr/local" --config-dir "$1/etc/palisade" \
    --containerd-config "${2:-$1/etc/containerd/config.toml}" --hooks-dir "$1/usr/share/containers/oci/hooks.d" \
    --systemd-dir "$1/etc/systemd/system" --state-dir "$1/var/lib/palisade/install" --binary "$T/palisade"
}

# containerd's own view of CONFIG must have NRI on with external connections.
assert_nri_enabled() {
  containerd --config "$1" config dump >"$T/dump" 2>&1 || { cat "$T/dump" >&2; fail "containerd rejects $1"; }
  python3 - "$T/dump" <<'EOF' || fail "containerd does not see NRI enabled in $1"
import sys, tomllib
nri = tomllib.load(open(sys.argv[1], "rb"))["plugins"]["io.containerd.nri.v1.nri"]
sys.exit(0 if nri["disable"] is False and nri["disable_connections"] is False else 1)
EOF
}

# Every line of ORIGINAL (comments included) is still in CONFIG, in order.
assert_lines_kept() {
  python3 - "$1" "$2" <<'EOF' || fail "install dropped or reordered lines of the user's config"
import sys
orig, new = (open(p).read().splitlines() for p in sys.argv[1:])
it = iter(new)
missing = [l for l in orig if not any(l == n or n.endswith("# palisade-install-was: " + l) for n in it)]
sys.exit(1 if missing else 0)
EOF
}

# run_case NAME: the sandbox $T/NAME holds etc/containerd/config.toml (or not) before this.
run_case() {
  local name=$1 sb="$T/$1" before after1 after2 after3 cfg out args
  cfg="$sb/etc/containerd/config.toml"
  mapfile -t args < <(sandbox_args "$sb")
  step "case $name: fresh install"
  before=$(digest "$sb"); cp "$T/last-snapshot" "$T/$name.before"
  [ -f "$cfg" ] && cp -p "$cfg" "$T/$name.orig"
  "$INSTALL" "${args[@]}" | tee "$T/$name.out1"
  after1=$(digest "$sb"); cp "$T/last-snapshot" "$T/$name.after1"
  [ "$after1" != "$before" ] || fail "$name: install changed nothing"
  assert_nri_enabled "$cfg"
  [ -f "$T/$name.orig" ] && assert_lines_kept "$T/$name.orig" "$cfg"
  [ -x "$sb/usr/local/bin/palisade" ] || fail "$name: binary not installed"
  cmp -s "$T/palisade" "$sb/usr/local/bin/palisade" || fail "$name: installed binary differs"
  grep -qx "policy_dir = \"$sb/etc/palisade/policies\"" "$sb/etc/palisade/config" || fail "$name: config policy_dir"
  grep -qx "ExecStart=$sb/usr/local/bin/palisade agent --config $sb/etc/palisade/config" \
    "$sb/etc/systemd/system/palisade.service" || fail "$name: unit ExecStart"
  # systemd's own parser (systemd need not run): any complaint about the unit fails
  systemd-analyze verify "$sb/etc/systemd/system/palisade.service" >"$T/verify" 2>&1 || true
  [ ! -s "$T/verify" ] || { cat "$T/verify"; fail "$name: systemd-analyze verify complains about the unit"; }
  python3 - "$sb/usr/share/containers/oci/hooks.d/palisade.json" "$sb/usr/local/bin/palisade" <<'EOF' || fail "$name: hook file"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["version"] == "1.0.0" and h["hook"]["path"] == sys.argv[2], h
assert h["hook"]["args"] == ["palisade", "oci-hook", "createRuntime"] and h["stages"] == ["createRuntime"], h
EOF
  for p in "$REPO"/policies/*.yaml; do
    [ -e "$p" ] || continue
    cmp -s "$p" "$sb/etc/palisade/policies/$(basename "$p")" || fail "$name: policy $(basename "$p") not installed"
  done

  step "case $name: second install"
  out=$("$INSTALL" "${args[@]}")
  echo "$out"
  after2=$(digest "$sb")
  grep -q "nothing changed" <<<"$out" || fail "$name: second install did not report 'nothing changed'"
  [ "$after2" = "$after1" ] || { diff "$T/$name.after1" "$T/last-snapshot" || true; fail "$name: second install changed the tree"; }

  step "case $name: uninstall"
  "$UNINSTALL" --state-dir "$sb/var/lib/palisade/install"
  after3=$(digest "$sb")
  if [ -f "$T/$name.orig" ]; then
    cmp "$T/$name.orig" "$cfg" || fail "$name: containerd config not restored byte for byte"
  fi
  [ "$after3" = "$before" ] || { diff "$T/$name.before" "$T/last-snapshot" || true; fail "$name: uninstall left the tree different from before install"; }
  printf 'PROOF %-22s before=%s install=%s reinstall=%s uninstall=%s config=%s\n' "$name" "$before" "$after1" \
    "$after2" "$after3" "$( [ -f "$cfg" ] && sha256sum <"$cfg" | cut -c1-16 || echo absent)" | tee -a "$T/proof"
}

# 1. A user's config: comments, its own [plugins] section and settings, no NRI table.
mkdir -p "$T/user/etc/containerd"
cat >"$T/user/etc/containerd/config.toml" <<'EOF'
# My containerd settings -- hand written, keep my comments.
version = 2
oom_score = -999    # trailing comment stays too

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/pause:local"
    # no apparmor here
    disable_apparmor = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
EOF
chmod 0600 "$T/user/etc/containerd/config.toml"
run_case user

# 2. containerd's own default config: an NRI table with `disable = true`, edited in place.
mkdir -p "$T/default/etc/containerd"
containerd config default >"$T/default/etc/containerd/config.toml"
grep -q 'io.containerd.nri.v1.nri' "$T/default/etc/containerd/config.toml" || fail "containerd config default has no NRI table"
run_case default
grep -q 'NRI edited' "$T/default.out1" || fail "default: NRI was not edited in place"

# 3. No containerd config at all: install writes one, uninstall removes it and its directory.
mkdir -p "$T/none"
run_case none

# 4. The admin changes the containerd config and palisade's config file after install:
#    reinstall keeps both, uninstall takes out only palisade's NRI block and keeps the edited file.
step "case edited: install, then the admin edits"
sb="$T/edited"; mkdir -p "$sb/etc/containerd"
cp "$T/user.orig" "$sb/etc/containerd/config.toml"
mapfile -t args < <(sandbox_args "$sb")
"$INSTALL" "${args[@]}" >/dev/null
echo 'debug_level = "info" # added by the admin after install' >>"$sb/etc/containerd/config.toml"
echo '# my own setting' >>"$sb/etc/palisade/config"
cp "$sb/etc/palisade/config" "$T/edited.config"
out=$("$INSTALL" "${args[@]}")
grep -q "left $sb/etc/palisade/config as it is" <<<"$out" || fail "edited: reinstall did not keep the edited config"
cmp -s "$T/edited.config" "$sb/etc/palisade/config" || fail "edited: reinstall overwrote the edited config"
"$UNINSTALL" --state-dir "$sb/var/lib/palisade/install" | tee "$T/edited.out"
{ cat "$T/user.orig"; echo 'debug_level = "info" # added by the admin after install'; } >"$T/edited.want"
# the block's leading blank line goes with it; the admin's line stays where they put it
python3 - "$sb/etc/containerd/config.toml" "$T/edited.want" <<'EOF' || fail "edited: uninstall did not keep the admin's change and drop only palisade's"
import sys
got, want = (open(p).read() for p in sys.argv[1:])
assert "palisade" not in got and got == want, got
EOF
grep -q "kept $sb/etc/palisade/config: you edited it" "$T/edited.out" || fail "edited: uninstall did not say it kept the edited config"
left=$(cd "$sb" && find . -type f | LC_ALL=C sort | tr '\n' ' ')
[ "$left" = "./etc/containerd/config.toml ./etc/palisade/config " ] || fail "edited: leftovers besides the two edited files: $left"
echo "PROOF edited                 admin's containerd line kept, palisade block removed, edited config kept" | tee -a "$T/proof"

# 5. Refusals write nothing: a version 1 config and NRI set through an inline table.
for bad in 'root = "/var/lib/containerd"' $'version = 2\n[plugins]\n  "io.containerd.nri.v1.nri" = { disable = true }'; do
  sb="$T/refuse"; rm -rf "$sb"; mkdir -p "$sb/etc/containerd"
  printf '%s\n' "$bad" >"$sb/etc/containerd/config.toml"
  before=$(digest "$sb")
  mapfile -t args < <(sandbox_args "$sb")
  if "$INSTALL" "${args[@]}" >"$T/refuse.out" 2>&1; then cat "$T/refuse.out"; fail "install accepted an uneditable config"; fi
  grep -q "containerd config:" "$T/refuse.out" || { cat "$T/refuse.out"; fail "refusal without a reason"; }
  [ "$(digest "$sb")" = "$before" ] || fail "a refused install still wrote files"
done
echo "PROOF refusals               version-1 and inline-table configs refused, nothing written" | tee -a "$T/proof"

# 6. The real containerd config of this host (written by integration/containerd/setup.sh).
if [ -f "$REAL" ]; then
  step "case real: $REAL"
  REAL_SAVED="$T/real.saved"
  cp -p "$REAL" "$REAL_SAVED"
  sb="$T/real"; mkdir -p "$sb"
  mapfile -t args < <(sandbox_args "$sb" "$REAL")
  stat_before=$(stat -c '%a %U:%G %s %Y' "$REAL"); sum_before=$(sha256sum <"$REAL")
  before=$(digest "$sb")
  "$INSTALL" "${args[@]}"
  assert_nri_enabled "$REAL"
  after1=$(digest "$sb"); sum1=$(sha256sum <"$REAL")
  out=$("$INSTALL" "${args[@]}"); echo "$out"
  grep -q "nothing changed" <<<"$out" || fail "real: second install changed something"
  if [ "$(digest "$sb")" != "$after1" ] || [ "$(sha256sum <"$REAL")" != "$sum1" ]; then fail "real: second install changed files"; fi
  "$UNINSTALL" --state-dir "$sb/var/lib/palisade/install"
  cmp "$REAL_SAVED" "$REAL" || fail "real: $REAL not restored byte for byte"
  [ "$(stat -c '%a %U:%G %s %Y' "$REAL")" = "$stat_before" ] || fail "real: mode, owner or mtime of $REAL changed"
  [ "$(digest "$sb")" = "$before" ] || fail "real: leftovers in the sandbox"
  echo "PROOF real $REAL sha256=${sum_before:0:16} install=${sum1:0:16} after-uninstall=$(sha256sum <"$REAL" | cut -c1-16)" | tee -a "$T/proof"
else
  echo "no $REAL on this host: the real-config case did not run (integration/containerd/setup.sh writes it)"
fi

# 7. The installed hooks.d file through real podman (its own storage under $T).
step "hooks.d through podman $(podman --version | awk '{print $3}')"
sb="$T/hooks"; mkdir -p "$sb"
mapfile -t args < <(sandbox_args "$sb")
"$INSTALL" "${args[@]}" --no-containerd >/dev/null
hooks="$sb/usr/share/containers/oci/hooks.d"
PODMAN_ARGS=(--root "$T/podman/root" --runroot "$T/podman/run" --cgroup-manager=cgroupfs --events-backend=file --runtime=runc)
IMAGE_TAR=/var/lib/palisade-it/containerd/busybox.tar
[ -f "$IMAGE_TAR" ] || fail "$IMAGE_TAR missing: run integration/containerd/setup.sh"
podman "${PODMAN_ARGS[@]}" load -q -i "$IMAGE_TAR" >/dev/null
RUN=(--network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/busybox:local true)
# (a) the file exactly as installed loads; an unannotated container does not match it
podman "${PODMAN_ARGS[@]}" --hooks-dir "$hooks" --log-level=debug run -d --name plain "${RUN[@]}" >"$T/p1" 2>&1 ||
  { cat "$T/p1"; fail "podman run (no annotation) failed with the installed hook file"; }
grep -q "added hook $hooks/palisade.json" "$T/p1" || { cat "$T/p1"; fail "podman did not load the installed hook file"; }
grep -q 'hook palisade.json did not match' "$T/p1" || fail "hook matched a container without the annotation"
# (b) the same file with its command swapped for a recorder: it matches the annotated container,
#     runs at createRuntime with the OCI state on stdin, and not for an empty annotation value
mkdir -p "$T/rec-hooks"
printf '#!/bin/sh\ncat >"%s/state.json"\necho "$@" >"%s/argv"\n' "$T" "$T" >"$T/recorder"; chmod +x "$T/recorder"
python3 - "$hooks/palisade.json" "$T/recorder" >"$T/rec-hooks/palisade.json" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1])); h["hook"]["path"] = sys.argv[2]
print(json.dumps(h))
EOF
podman "${PODMAN_ARGS[@]}" --hooks-dir "$T/rec-hooks" --log-level=debug init \
  "$(podman "${PODMAN_ARGS[@]}" create --name empty --annotation palisade.dev/policies= "${RUN[@]}")" >"$T/p2" 2>&1 || { cat "$T/p2"; fail "podman init (empty annotation)"; }
grep -q 'hook palisade.json did not match' "$T/p2" || fail "hook matched an empty palisade.dev/policies"
[ ! -e "$T/state.json" ] || fail "hook ran for an empty palisade.dev/policies"
podman "${PODMAN_ARGS[@]}" --hooks-dir "$T/rec-hooks" --log-level=debug init \
  "$(podman "${PODMAN_ARGS[@]}" create --name annotated --annotation palisade.dev/policies=protect-shadow "${RUN[@]}")" >"$T/p3" 2>&1 || { cat "$T/p3"; fail "podman init (annotated)"; }
grep -q 'hook palisade.json matched; adding to stages \[createRuntime\]' "$T/p3" || { cat "$T/p3"; fail "hook did not match the annotated container"; }
[ "$(cat "$T/argv" 2>/dev/null)" = "oci-hook createRuntime" ] || fail "hook not run with argv 'palisade oci-hook createRuntime'"
python3 - "$T/state.json" <<'EOF' || fail "hook did not get the OCI state of a creating container"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["status"] == "creating" and s["pid"] > 0 and s["annotations"]["palisade.dev/policies"] == "protect-shadow", s
EOF
# (c) the real installed binary as the hook, with no agent listening (its socket pointed at a
#     path where none is): the annotated container must be refused, fail-closed
python3 - "$hooks/palisade.json" "$T/absent.sock" >"$T/rec-hooks/palisade.json" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1]))
h["hook"]["args"][1:1] = ["--socket", sys.argv[2]]
print(json.dumps(h))
EOF
if podman "${PODMAN_ARGS[@]}" --hooks-dir "$T/rec-hooks" init \
  "$(podman "${PODMAN_ARGS[@]}" create --name refused --annotation palisade.dev/policies=protect-shadow "${RUN[@]}")" >"$T/p4" 2>&1; then
  cat "$T/p4"; fail "an annotated container was set up although no agent answered the hook"
fi
grep "refusing container" "$T/p4" || { cat "$T/p4"; fail "the container failed, but not because palisade oci-hook refused it"; }
podman "${PODMAN_ARGS[@]}" rm -af >/dev/null
"$UNINSTALL" --state-dir "$sb/var/lib/palisade/install" >/dev/null
[ -z "$(find "$sb" -mindepth 1)" ] || fail "hooks: leftovers after uninstall"
echo "PROOF hooks.d                podman loads it; matches palisade.dev/policies=protect-shadow at createRuntime; not unannotated, not empty; no agent => container refused" | tee -a "$T/proof"

step "summary"
cat "$T/proof"
echo "test-install: all cases passed"
