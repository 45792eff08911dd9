#!/bin/sh
# Bypass suite driver; runs as root INSIDE the kernel lab guest (busybox sh is enough).
#
#   run-suite.sh (--enter 'PREFIX' | --cgroup DIR | --control-only)
#                [--no-control] [--only ID,ID...] [--expect blocked|not-blocked]
#
# --enter 'PREFIX'  command prefix that runs a command in the protected cgroup, e.g.
#                   'palisade run --policy /lab/policies/bypass-suite.yaml --' (split on spaces).
#                   It must keep inherited fds (fd 3 for the pre-opened-fd attacks).
# --cgroup DIR      a cgroup2 directory the protection applies to; the attack writes its pid into
#                   DIR/cgroup.procs (via `bypass enter DIR --`).
# --control-only    only the control run.
# The control run first runs every attack in a fresh, unprotected cgroup
# (/sys/fs/cgroup/bypass-control): each must succeed and change its target, or the suite is void.
#
# One line per attack and run:
#   CONTROL <id> <name> SUCCEEDED|FAILED <detail>
#   BYPASS  <id> <name> BLOCKED|NOT-BLOCKED|ERROR <detail>
# BLOCKED = the attack's operation failed AND the fingerprint (`bypass state`: stat, content,
# xattrs of /etc, /etc/shadow, /etc/secret-dir..., exec proof files) is unchanged. A process
# killed by a signal before reporting counts as failed. ERROR = the attack could not be run
# (fixture or cgroup-entry problem), never counted as blocked.
# Exit: 0 = every result as expected (--expect blocked, the default: all BLOCKED;
# --expect not-blocked: all NOT-BLOCKED with the attack succeeding), 1 = otherwise,
# 2 = the control run failed (the attacks are broken, results mean nothing), 3 = usage.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BYPASS=${BYPASS:-$HERE/bypass}
ENTER='' CONTROL=1 PROTECTED=1 ONLY='' EXPECT=blocked
while [ $# -gt 0 ]; do
  case $1 in
    --enter) ENTER=$2; shift 2 ;;
    --cgroup) ENTER="$BYPASS enter $2 --"; [ -d "$2" ] || mkdir -p "$2"; shift 2 ;;
    --control-only) PROTECTED=0; shift ;;
    --no-control) CONTROL=0; shift ;;
    --only) ONLY=$(echo "$2" | tr ',' ' '); shift 2 ;;
    --expect) EXPECT=$2; shift 2 ;;
    *) echo "run-suite: unknown argument $1" >&2; exit 3 ;;
  esac
done
[ "$PROTECTED" = 0 ] || [ -n "$ENTER" ] || { echo "run-suite: need --enter, --cgroup or --control-only" >&2; exit 3; }
case $EXPECT in blocked|not-blocked) ;; *) echo "run-suite: --expect blocked|not-blocked" >&2; exit 3 ;; esac
[ "$(id -u)" = 0 ] || { echo "run-suite: must run as root" >&2; exit 3; }
[ -x "$BYPASS" ] || { echo "run-suite: $BYPASS missing (integration/bypass/build.sh)" >&2; exit 3; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BYPASS" list > "$T/list" || exit 3

# run_attack PREFIX ID PREOPEN: reset, fingerprint, attack through PREFIX, fingerprint again.
# Sets RES (the RESULT line without "RESULT "), KIND (OK|DENIED|ERROR), CHANGED, OUT.
run_attack() {
  prefix=$1 id=$2 pre=$3
  if ! "$BYPASS" setup > "$T/setup" 2>&1; then
    KIND=ERROR RES="ERROR fixture setup failed: $(cat "$T/setup")" CHANGED='' OUT=''; return
  fi
  "$BYPASS" state > "$T/before"
  if [ "$pre" = - ]; then
    # shellcheck disable=SC2086  # the prefix is a command line
    OUT=$($prefix "$BYPASS" attack "$id" 2>&1)
  else
    # shellcheck disable=SC2086
    OUT=$("$BYPASS" preopen "$pre" -- $prefix "$BYPASS" attack "$id" 2>&1)
  fi
  st=$?
  "$BYPASS" state > "$T/after"
  CHANGED=$(awk 'NR == FNR { a[FNR] = $0; next } $0 != a[FNR] { printf "%s%s", s, $1; s = "," }' \
    "$T/before" "$T/after")
  RES=$(printf '%s\n' "$OUT" | sed -n 's/^RESULT //p' | tail -n 1)
  if [ -n "$RES" ]; then
    KIND=${RES%% *}
  elif [ "$st" -gt 128 ]; then
    KIND=DENIED RES="DENIED - killed by signal $((st - 128)) before reporting"
  else
    KIND=ERROR RES="ERROR no result (exit $st): $(printf '%s' "$OUT" | tr '\n' ' ' | cut -c1-300)"
  fi
}

detail() {
  if [ -n "$CHANGED" ]; then echo "${RES#* }; changed: $CHANGED"; else echo "${RES#* }; targets intact"; fi
}

control_ok=0 control_bad=0 blocked=0 not_blocked=0 errors=0 as_expected=0 total=0

if [ "$CONTROL" = 1 ]; then
  CG=/sys/fs/cgroup/bypass-control
  mkdir -p "$CG"
  echo "# control run: unprotected cgroup $CG"
  while read -r id name pre; do
    [ -z "$ONLY" ] || case " $ONLY " in *" $id "*) ;; *) continue ;; esac
    run_attack "$BYPASS enter $CG --" "$id" "$pre"
    if [ "$KIND" = OK ] && [ -n "$CHANGED" ]; then
      echo "CONTROL $id $name SUCCEEDED $(detail)"; control_ok=$((control_ok + 1))
    else
      echo "CONTROL $id $name FAILED $(detail)"; control_bad=$((control_bad + 1))
      [ "$KIND" = ERROR ] && [ -n "$OUT" ] && printf '%s\n' "$OUT" | grep -v '^RESULT ' | head -n 5 | sed 's/^/  | /'
    fi
  done < "$T/list"
fi

if [ "$PROTECTED" = 1 ]; then
  echo "# protected run: $ENTER"
  while read -r id name pre; do
    [ -z "$ONLY" ] || case " $ONLY " in *" $id "*) ;; *) continue ;; esac
    run_attack "$ENTER" "$id" "$pre"
    total=$((total + 1))
    if [ "$KIND" = ERROR ]; then
      verdict=ERROR; errors=$((errors + 1))
      [ -n "$OUT" ] && printf '%s\n' "$OUT" | grep -v '^RESULT ' | head -n 5 | sed 's/^/  | /'
    elif [ "$KIND" = DENIED ] && [ -z "$CHANGED" ]; then
      verdict=BLOCKED; blocked=$((blocked + 1))
      [ "$EXPECT" = blocked ] && as_expected=$((as_expected + 1))
    else
      verdict=NOT-BLOCKED; not_blocked=$((not_blocked + 1))
      [ "$EXPECT" = not-blocked ] && [ "$KIND" = OK ] && [ -n "$CHANGED" ] && as_expected=$((as_expected + 1))
    fi
    echo "BYPASS $id $name $verdict $(detail)"
  done < "$T/list"
fi

"$BYPASS" setup > /dev/null 2>&1   # leave the guest with intact targets
echo "SUMMARY control: $control_ok succeeded, $control_bad failed; protected: $blocked blocked, $not_blocked not blocked, $errors errors (expect $EXPECT: $as_expected/$total as expected)"
[ "$control_bad" = 0 ] || exit 2
[ "$as_expected" = "$total" ] || exit 1
exit 0
