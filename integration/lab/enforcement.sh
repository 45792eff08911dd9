#!/bin/sh
# Enforcement tests, run as root INSIDE the kernel lab guest (busybox sh), from /lab:
#
#   /lab/enforcement.sh [--expect-mechanism bpf_lsm|fmod_ret] [--skip-suite] [--only-persist]
#                       [--persist-migrate]
#
# /lab must hold policies/ (protect-etc, bypass-suite, bypass-suite-kill, deny-connect .yaml), bypass and
# run-suite.sh (integration/bypass); integration/lab/run.sh assembles that and boots the lab.
# Prints one row per test and per bypass attack, then a summary; exits 1 if anything failed
# (an attack NOT-BLOCKED counts as a failure), 2 on usage or missing files.
set -u
LAB=$(cd "$(dirname "$0")" && pwd)
POL=$LAB/policies
MECH=bpf_lsm SUITE=1 ONLY_PERSIST=0 PERSIST_MIGRATE=0
while [ $# -gt 0 ]; do
  case $1 in
    --expect-mechanism) MECH=$2; shift 2 ;;
    --skip-suite) SUITE=0; shift ;;
    --only-persist) ONLY_PERSIST=1; shift ;;
    --persist-migrate) PERSIST_MIGRATE=1; shift ;; # also a third agent through the upgrade path
    *) echo "enforcement.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for f in "$POL/protect-etc.yaml" "$POL/bypass-suite.yaml" "$POL/bypass-suite-kill.yaml" "$POL/deny-connect.yaml"; do
  [ -f "$f" ] || { echo "enforcement.sh: missing $f" >&2; exit 2; }
done
command -v palisade >/dev/null || { echo "enforcement.sh: palisade not in PATH" >&2; exit 2; }
T=$(mktemp -d)
ROWS=$T/rows
: > "$ROWS"
pass=0 fail=0
row() { # row NAME PASS|FAIL DETAIL
  printf '%-34s %-11s %s\n' "$1" "$2" "$3" >> "$ROWS"
  if [ "$2" = PASS ] || [ "$2" = BLOCKED ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
  printf '%-34s %-11s %s\n' "$1" "$2" "$3"
}
has() { grep -q "$2" "$1"; }

echo "# kernel $(uname -r), LSMs: $(cat /sys/kernel/security/lsm), expected mechanism: $MECH"
cp -p /etc/shadow "$T/shadow.orig"
restore_shadow() { cp -p "$T/shadow.orig" /etc/shadow; }

# 9 (run last, or alone with --only-persist). Enforcement outlives the agent: `palisade agent`
#    with protect-etc bound to a cgroup (registered as an OCI hook would) in which a loop keeps
#    trying `rm /etc/shadow`; the agent is SIGKILLed mid-loop, the loop goes on, a new agent
#    starts and adopts the pinned programs and maps. Every rm must fail with EPERM.
agent_persist() {
  AP=$T/agent-policies PIN=/sys/fs/bpf/palisade-lab SOCK=$T/agent.sock
  CG=/sys/fs/cgroup/palisade-persist
  mkdir -p "$AP" "$CG"
  cp "$POL/protect-etc.yaml" "$AP/"
  rm -rf "$PIN"
  start_agent() { # start_agent N: starts agent N and waits for its API (up to 120 s)
    palisade --socket "$SOCK" agent --nri-socket none --bpf-pin-dir "$PIN" --policy-dir "$AP" \
      --export-file "$T/agent-ev$1" > /dev/null 2> "$T/agent-log$1" &
    echo $! > "$T/agent-pid"
    n=0
    until palisade --socket "$SOCK" status -o json > "$T/agent-status$1" 2> /dev/null; do
      n=$((n + 1)); [ $n -lt 600 ] || return 1; sleep 0.2
    done
  }
  wait_rms() { # wait_rms N: until N more rm attempts were made
    want=$(( $(wc -l < "$T/rm-err") + $1 )); n=0
    while [ "$(wc -l < "$T/rm-err")" -lt "$want" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
  }
  why=''
  start_agent 1 || why="$why first agent did not start: $(tail -n 3 "$T/agent-log1" | tr '\n' ' ');"
  : > "$T/rm-err"
  sh -c "echo \$\$ > $CG/cgroup.procs; while [ ! -e $T/go ]; do sleep 0.05; done
    i=0 ok=0
    while [ ! -e $T/stop ]; do
      if rm /etc/shadow 2>> $T/rm-err; then ok=\$((ok + 1)); fi
      i=\$((i + 1))
    done
    echo attempts=\$i removed=\$ok > $T/rm-out" &
  attacker=$!
  sleep 0.5
  printf '{"ociVersion":"1.0.2","id":"persist","status":"creating","pid":%s,"bundle":"%s","annotations":{"palisade.dev/policies":"protect-etc"}}' \
    "$attacker" "$T" | palisade --socket "$SOCK" oci-hook > "$T/hook-out" 2>&1 \
    || why="$why oci-hook refused: $(cat "$T/hook-out");"
  touch "$T/go"
  wait_rms 20
  kill -9 "$(cat "$T/agent-pid")"
  dead_from=$(wc -l < "$T/rm-err")
  wait_rms 50
  start_agent 2 || why="$why second agent did not start: $(tail -n 3 "$T/agent-log2" | tr '\n' ' ');"
  dead_rms=$(( $(wc -l < "$T/rm-err") - dead_from )) # until the second agent answered
  wait_rms 20
  palisade --socket "$SOCK" status > "$T/agent-status2.txt" 2>&1
  migrated=''
  if [ "$PERSIST_MIGRATE" = 1 ]; then
    # the upgrade path: fresh maps, policies and bindings re-written, old programs dropped last
    kill -9 "$(cat "$T/agent-pid")"
    wait_rms 20
    PALISADE_ENFORCE_MIGRATE=1 start_agent 3 || why="$why third agent did not start: $(tail -n 3 "$T/agent-log3" | tr '\n' ' ');"
    wait_rms 20
    migrated=$(tr -d ' \n' < "$T/agent-status3" | grep -o '"adopted":{[^}]*}')
    case $migrated in *'"path":"migrated"'*'"policies":1'*) ;; *) why="$why third agent did not migrate ($migrated);" ;; esac
    migrated=", then $migrated"
  fi
  touch "$T/stop"
  wait "$attacker"
  kill "$(cat "$T/agent-pid")" 2> /dev/null
  sleep 1
  attempts=$(sed -n 's/.*attempts=\([0-9]*\).*/\1/p' "$T/rm-out")
  eperm=$(grep -c 'Operation not permitted' "$T/rm-err")
  adopted=$(tr -d ' \n' < "$T/agent-status2" | grep -o '"adopted":{[^}]*}')
  dead_decisions=$(grep -c '"function_name":"security_path_unlink"' "$T/agent-ev2")
  has "$T/rm-out" 'removed=0' || why="$why an rm succeeded ($(cat "$T/rm-out"));"
  cmp -s /etc/shadow "$T/shadow.orig" || { why="$why /etc/shadow changed;"; restore_shadow; }
  [ "${attempts:-0}" -gt 0 ] && [ "$eperm" = "$attempts" ] || why="$why $eperm EPERM for ${attempts:-?} attempts;"
  [ "$dead_rms" -ge 50 ] || why="$why only $dead_rms attempts while no agent ran;"
  case $adopted in *'"policies":1'*'"cgroups":1'*|*'"cgroups":1'*'"policies":1'*) ;; *) why="$why status lacks the adoption ($adopted);" ;; esac
  has "$T/agent-status2.txt" 'adopted from a previous agent' || why="$why status text lacks the adoption;"
  [ "$dead_decisions" -gt 0 ] || why="$why no /etc/shadow decision reached the second agent;"
  if [ -z "$why" ]; then
    row agent-killed-enforcement-stays PASS "$attempts rm, all EPERM ($dead_rms while no agent ran), shadow intact, $adopted, $dead_decisions decisions exported by the second agent$migrated"
  else
    row agent-killed-enforcement-stays FAIL "$why"
  fi
  rm -rf "$PIN"
  rmdir "$CG" 2> /dev/null
}
if [ "$ONLY_PERSIST" = 1 ]; then
  agent_persist
  echo "# $pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit
fi

# 1. The headline: rm /etc/shadow under protect-etc fails with EPERM and changes nothing.
palisade run --policy "$POL/protect-etc.yaml" --events "$T/ev1" -- rm /etc/shadow 2> "$T/err1"
rc=$?
why=''
[ "$rc" != 0 ] || why="$why rm exited 0;"
has "$T/err1" 'Operation not permitted' || why="$why no EPERM in rm's output;"
cmp -s /etc/shadow "$T/shadow.orig" || why="$why /etc/shadow changed;"
ev=$(grep '"operation":"unlink"' "$T/ev1" | head -n 1)
for want in '"policy":"protect-etc"' '"rule":"etc-immutable"' '"hook":"path_unlink"' \
    "\"mechanism\":\"$MECH\"" '"prevented":true' '"path":"/etc/shadow"' '"errno":1'; do
  case $ev in *"$want"*) ;; *) why="$why decision lacks $want;" ;; esac
done
if [ -z "$why" ]; then row shadow-rm-denied PASS "rc=$rc, EPERM, shadow intact, $ev"; else row shadow-rm-denied FAIL "$why (event: $ev)"; restore_shadow; fi

# 2. Control: without palisade the same rm works (the lab is not protected by accident).
if rm /etc/shadow && [ ! -e /etc/shadow ]; then row shadow-rm-unprotected PASS "rm succeeded outside the policy's cgroup"; else row shadow-rm-unprotected FAIL "rm failed without palisade"; fi
restore_shadow

# 3. A child cgroup created inside the protected one inherits the binding.
palisade run --policy "$POL/protect-etc.yaml" --events "$T/ev3" -- sh -c '
  cg=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)
  mkdir "$cg/escape" && echo $$ > "$cg/escape/cgroup.procs" && rm /etc/shadow' 2> "$T/err3"
rc=$?
if [ "$rc" != 0 ] && cmp -s /etc/shadow "$T/shadow.orig" && has "$T/ev3" '"hook":"path_unlink"'; then
  row child-cgroup-escape PASS "rm from a new child cgroup denied"
else
  row child-cgroup-escape FAIL "rc=$rc; $(tr '\n' ' ' < "$T/err3" | cut -c1-200)"; restore_shadow
fi

# 4. deny-and-kill: the operation is denied inline AND the caller is killed in the same hook.
palisade run --policy "$POL/bypass-suite-kill.yaml" --events "$T/ev-kill" -- rm /etc/shadow 2> "$T/err-kill"
rc=$?
if [ "$rc" = 137 ] && cmp -s /etc/shadow "$T/shadow.orig" && has "$T/ev-kill" '"action":"deny-and-kill"' \
    && has "$T/ev-kill" '"killed":true' && has "$T/ev-kill" '"prevented":true'; then
  row deny-and-kill PASS "rm killed (137), shadow intact, decision killed+prevented"
else
  row deny-and-kill FAIL "rc=$rc; $(head -c 300 "$T/ev-kill")"; restore_shadow
fi

# 5. Audit mode reports and prevents nothing.
palisade run --audit --policy "$POL/protect-etc.yaml" --events "$T/ev4" -- touch /etc/palisade-audit 2> "$T/err4"
rc=$?
if [ "$rc" = 0 ] && [ -e /etc/palisade-audit ] && has "$T/ev4" '"action":"audit"' && has "$T/ev4" '"prevented":false'; then
  row audit-mode PASS "touch allowed and reported as audit"
else
  row audit-mode FAIL "rc=$rc; $(head -c 300 "$T/ev4")"
fi
rm -f /etc/palisade-audit

# 6. Policy replacement while the attack loops: new sets, one flip, old sets deleted, every
#    20 ms; not one append to /etc/shadow may get through.
palisade run --policy "$POL/protect-etc.yaml" --reapply-every-ms 20 --events "$T/ev5" -- sh -c '
  i=0 ok=0
  while [ $i -lt 20000 ]; do
    if echo x 2>/dev/null >> /etc/shadow; then ok=$((ok + 1)); fi
    i=$((i + 1))
  done
  echo "leaked=$ok"' > "$T/out5" 2> "$T/err5"
swaps=$(sed -n 's/.*re-applied \([0-9]*\) times.*/\1/p' "$T/err5")
denied=$(grep -c '"operation":"write"' "$T/ev5")
if has "$T/out5" '^leaked=0$' && cmp -s /etc/shadow "$T/shadow.orig" && [ "${swaps:-0}" -ge 10 ]; then
  row live-policy-swap PASS "20000 appends during ${swaps} replacements: 0 leaked, $denied denials reported"
else
  row live-policy-swap FAIL "$(cat "$T/out5") swaps=${swaps:-?} $(tail -n 2 "$T/err5" | tr '\n' ' ')"; restore_shadow
fi

# 7. connect() to a denied destination fails with EPERM inline (cgroup sock_addr).
palisade run --policy "$POL/deny-connect.yaml" --events "$T/ev6" -- sh -c 'echo x | nc 127.0.0.1 9' > /dev/null 2> "$T/err6"
if has "$T/ev6" '"hook":"connect4"' && has "$T/ev6" '"path":"127.0.0.1:9"' && has "$T/ev6" '"prevented":true' \
    && has "$T/err6" 'ermitted'; then
  row connect-denied PASS "nc 127.0.0.1:9 -> EPERM, decision connect4"
else
  row connect-denied FAIL "$(tr '\n' ' ' < "$T/err6" | cut -c1-200) $(head -c 200 "$T/ev6")"
fi

# 8. The bypass suite, with the policy bound to one cgroup the attacks enter.
if [ "$SUITE" = 1 ]; then
  CG=/sys/fs/cgroup/palisade-suite
  rm -f "$T/holder"
  palisade run --policy "$POL/bypass-suite.yaml" --cgroup "$CG" --events "$T/ev-suite" -- \
    sh -c "echo \$\$ > $T/holder; exec sleep 100000" 2> "$T/err-suite" &
  runner=$!
  n=0
  while [ ! -s "$T/holder" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  if [ ! -s "$T/holder" ]; then
    row bypass-suite FAIL "palisade did not start: $(tail -n 3 "$T/err-suite" | tr '\n' ' ')"
  else
    sh "$LAB/run-suite.sh" --cgroup "$CG" > "$T/suite" 2>&1
    src=$?
    grep -E '^(CONTROL .* FAILED|  \|)' "$T/suite"
    while read -r kind id name verdict detail; do
      [ "$kind" = BYPASS ] || continue
      row "$id $name" "$verdict" "$detail"
    done < "$T/suite"
    grep '^SUMMARY' "$T/suite"
    [ "$src" = 2 ] && row bypass-suite-control FAIL "control run failed: the attacks do not work here"
  fi
  kill "$(cat "$T/holder" 2>/dev/null)" 2>/dev/null
  wait "$runner"
fi

agent_persist

echo
echo "# results ($(uname -r), mechanism $MECH)"
cat "$ROWS"
echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
