#!/bin/sh
# Self-protection tests, run as root INSIDE the kernel lab guest (busybox sh), from /lab:
#
#   /lab/protect.sh [--expect-mechanism bpf_lsm|fmod_ret]
#
# /lab must hold policies/protect-etc.yaml; palisade and protect-attack must be in PATH
# (integration/lab/protect-run.sh assembles that and boots the lab). Starts `palisade agent`
# with pins under /sys/fs/bpf/palisade, then attacks it as root with every capability from
# "containers" (unshare -m: a hostPID container; unshare -p -f -m --mount-proc: a plain one),
# checks that everything was refused and reported and that enforcement still works, and that
# the same attacker from the host namespaces does obtain every fd (control) and host root can
# still stop the agent and remove the pins. One row per check; exit 1 if any failed.
set -u
LAB=$(cd "$(dirname "$0")" && pwd)
MECH=bpf_lsm
while [ $# -gt 0 ]; do
  case $1 in
    --expect-mechanism) MECH=$2; shift 2 ;;
    *) echo "protect.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for c in palisade protect-attack unshare; do
  command -v $c >/dev/null || { echo "protect.sh: $c not in PATH" >&2; exit 2; }
done
[ -f "$LAB/policies/protect-etc.yaml" ] || { echo "protect.sh: missing $LAB/policies/protect-etc.yaml" >&2; exit 2; }
T=$(mktemp -d)
PIN=/sys/fs/bpf/palisade
SOCK=$T/sock
pass=0 fail=0
row() { # row NAME PASS|FAIL DETAIL
  printf '%-30s %-5s %s\n' "$1" "$2" "$3"
  if [ "$2" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}
check() { # check NAME DETAIL WHY: PASS when WHY is empty
  if [ -z "$3" ]; then row "$1" PASS "$2"; else row "$1" FAIL "$3 ($2)"; fi
}
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
st() { palisade --socket "$SOCK" status -o json 2>/dev/null; }
echo "# kernel $(uname -r), LSMs: $(cat /sys/kernel/security/lsm), expected mechanism: $MECH"

mkdir "$T/pol"
cp "$LAB/policies/protect-etc.yaml" "$T/pol/"
cp -p /etc/shadow "$T/shadow.orig"
palisade --socket "$SOCK" agent --nri-socket none --bpf-pin-dir "$PIN" --policy-dir "$T/pol" \
  --export-file "$T/events.json" > "$T/agent.out" 2> "$T/agent.err" &
AGENT=$!
started=$(date +%s)
i=0
while [ $i -lt 180 ]; do
  st > "$T/st.json" && grep -q '"state": "active"' "$T/st.json" && break
  alive $AGENT || break
  sleep 1; i=$((i + 1))
done
why=''
grep -q '"state": "active"' "$T/st.json" 2>/dev/null || why="self-protection not active: $(grep -A3 self_protection "$T/st.json" 2>/dev/null | tr -s ' \n' ' ' | cut -c1-300) $(tail -n 5 "$T/agent.err")"
grep -q "\"mechanism\": \"$MECH\"" "$T/st.json" 2>/dev/null || why="$why mechanism is not $MECH;"
check agent-protect-active "agent $AGENT up in $(( $(date +%s) - started ))s: $(palisade --socket "$SOCK" status 2>/dev/null | grep self-protect)" "$why"
if [ -n "$why" ]; then
  echo "protect.sh: cannot continue without an active self-protection" >&2
  cat "$T/agent.err" >&2
  kill $AGENT 2>/dev/null
  echo "SUMMARY pass=$pass fail=$((fail))"
  exit 1
fi
sleep 3 # one refresh of the protected set (objects pinned after start)
st > "$T/st.json"

# targets, listed from the host (contained, the pin directory cannot even be read)
find "$PIN" | while read -r p; do if [ -d "$p" ]; then echo "$p/"; else echo "$p"; fi; done > "$T/pins"
find "$PIN" | sort > "$T/pins.before"
npins=$(grep -vc '/$' "$T/pins")
echo "# $(wc -l < "$T/pins") pin entries ($npins objects), $(tr -d ' \n' < "$T/st.json" | grep -o '"protected":{[^}]*}')"

# 1. Control: the same attacker from the host namespaces obtains every fd (it can see success).
protect-attack --status "$T/st.json" --pins "$T/pins" > "$T/control.out" 2>&1
sum=$(grep '^SUMMARY' "$T/control.out")
why=''
case $sum in *" refused=0") ;; *) why="host attacker was refused something: $(grep REFUSED "$T/control.out" | head -n 3 | tr '\n' ';')" ;; esac
n=$(grep -c OBTAINED "$T/control.out")
[ "$n" -gt 3 ] || why="$why only $n fds obtained;"
check control-host-obtains-fds "$sum" "$why"

# 2. Contained with the host pid namespace (a hostPID privileged container): everything, destructively.
attack() { # attack NAME UNSHARE-ARGS... -- ATTACK-ARGS...
  name=$1; shift
  ua=''
  while [ "$1" != -- ]; do ua="$ua $1"; shift; done
  shift
  # shellcheck disable=SC2086
  unshare $ua -- protect-attack --status "$T/st.json" --pins "$T/pins" --destructive "$@" > "$T/$name.out" 2>&1
  sum=$(grep '^SUMMARY' "$T/$name.out")
  why=''
  [ -n "$sum" ] || why="attacker failed: $(tail -n 3 "$T/$name.out" | tr '\n' ';')"
  case $sum in *" succeeded=0 "*) ;; *) why="$why $(grep -E 'OBTAINED|DONE' "$T/$name.out" | head -n 5 | tr '\n' ';')" ;; esac
  bad=$(grep REFUSED "$T/$name.out" | grep -vE 'REFUSED (EPERM|EACCES)$' | head -n 3 | tr '\n' ';')
  [ -z "$bad" ] || why="$why refused for another reason than the protection: $bad"
  check "$name" "$sum" "$why"
}
attack contained-hostpid-attack -m -- --agent-pid $AGENT
attack contained-pidns-attack -p -f -m --mount-proc --
# an fd that leaked into a container: obtained on the host, used after unshare(CLONE_NEWNS)
protect-attack --status "$T/st.json" --leaked-fds > "$T/leaked.out" 2>&1
sum=$(grep '^SUMMARY' "$T/leaked.out")
why=''
[ -n "$sum" ] || why="attacker failed: $(tail -n 3 "$T/leaked.out" | tr '\n' ';')"
case $sum in *" succeeded=0 "*) ;; *) why="$why $(grep -E 'DONE' "$T/leaked.out" | head -n 5 | tr '\n' ';')" ;; esac
bad=$(grep REFUSED "$T/leaked.out" | grep -v 'REFUSED EPERM$' | head -n 3 | tr '\n' ';')
[ -z "$bad" ] || why="$why refused for another reason than the protection: $bad"
check contained-leaked-fds "$(grep LEAKED "$T/leaked.out"), $sum" "$why"
unshare -m -- kill -9 $AGENT 2> "$T/kill.err"
rc=$?
check contained-kill-9 "rc=$rc: $(cat "$T/kill.err")" "$([ $rc != 0 ] || echo 'kill -9 succeeded')"
unshare -m -- sh -c "rm -rf $PIN/* ; mv $PIN/process $T/stolen" 2> "$T/rm.err"
check contained-rm-mv-pins "$(head -c 200 "$T/rm.err" | tr '\n' ';')" "$([ -e "$T/stolen" ] && echo 'mv worked')"

# 3. After the attacks: agent alive, pins intact, everything reported, enforcement works.
sleep 1
check agent-alive "pid $AGENT" "$(alive $AGENT || echo 'agent is dead')"
find "$PIN" | sort > "$T/pins.after"
check pins-intact "$(wc -l < "$T/pins.after") entries" "$(diff "$T/pins.before" "$T/pins.after" | head -n 5 | tr '\n' ';')"
sleep 2
st > "$T/st2.json"
refused=$(tr -d ' \n' < "$T/st2.json" | grep -o '"refusals":[0-9]*' | cut -d: -f2)
grep 'palisade-self-protection' "$T/events.json" > "$T/refusals.json"
why=''
for h in security_bpf_map security_bpf_prog security_bpf security_inode_permission security_task_kill security_ptrace_access_check; do
  grep -q "\"function_name\":\"$h\"" "$T/refusals.json" || why="$why no event from $h;"
done
[ "${refused:-0}" -gt 0 ] || why="$why status counts no refusals;"
check refusals-reported "$(wc -l < "$T/refusals.json") events, status refusals=$refused" "$why"
ev=$(grep '"function_name":"security_task_kill"' "$T/refusals.json" | head -n 1)
[ -n "$ev" ] && echo "EVENT kill $ev"
ev=$(grep '"function_name":"security_bpf_map"' "$T/refusals.json" | head -n 1)
[ -n "$ev" ] && echo "EVENT map $ev"

# enforcement still works: bind protect-etc to a cgroup through the agent (OCI hook), rm fails
CG=/sys/fs/cgroup/protect-victim
mkdir -p $CG
sh -c "echo \$\$ > $CG/cgroup.procs; exec sleep 300" &
VICTIM=$!
sleep 1
printf '{"ociVersion":"1.0.2","id":"victim","status":"creating","pid":%s,"bundle":"/tmp","annotations":{"palisade.dev/policies":"protect-etc"}}' $VICTIM \
  | palisade --socket "$SOCK" oci-hook > "$T/hook.out" 2>&1
hrc=$?
sh -c "echo \$\$ > $CG/cgroup.procs; exec rm /etc/shadow" 2> "$T/rm-shadow.err"
rc=$?
why=''
[ $hrc = 0 ] || why="oci-hook failed: $(cat "$T/hook.out");"
[ $rc != 0 ] || why="$why rm /etc/shadow succeeded;"
grep -q 'Operation not permitted' "$T/rm-shadow.err" || why="$why no EPERM;"
cmp -s /etc/shadow "$T/shadow.orig" || { why="$why /etc/shadow changed;"; cp -p "$T/shadow.orig" /etc/shadow; }
check enforcement-after-attacks "rc=$rc: $(cat "$T/rm-shadow.err")" "$why"
kill $VICTIM 2>/dev/null

# 4. Host root stays in control: it can stop the agent and remove the pins.
t0=$(date +%s)
kill -TERM $AGENT
(sleep 60; kill -9 $AGENT 2>/dev/null) &
DOG=$!
wait $AGENT
arc=$?
kill $DOG 2>/dev/null
check host-stops-agent "SIGTERM: exit $arc after $(( $(date +%s) - t0 ))s" "$([ $arc = 0 ] || echo "agent exit status $arc")"

# 5. Controls for the contained runs: with --no-self-protect the same contained attacker (not
#    destructive) obtains every fd, so the refusals above come from the protection and not from
#    the namespaces; and an agent outside the host pid namespace says it is unavailable.
start_agent() { # start_agent SOCK ARGS...: sets AGENT, waits for the API
  s=$1; shift
  "$@" > "$T/agent2.out" 2> "$T/agent2.err" &
  AGENT=$!
  i=0
  until palisade --socket "$s" status -o json > "$T/st3.json" 2>/dev/null \
      && ! grep -q '"state": "starting"' "$T/st3.json"; do
    i=$((i + 1)); [ $i -lt 120 ] && alive $AGENT || break; sleep 1
  done
}
start_agent "$SOCK" palisade --socket "$SOCK" agent --nri-socket none --bpf-pin-dir "$PIN" --no-self-protect
sleep 1
find "$PIN" | while read -r p; do if [ -d "$p" ]; then echo "$p/"; else echo "$p"; fi; done > "$T/pins3"
unshare -m -- protect-attack --all-ids --pins "$T/pins3" > "$T/unprot.out" 2>&1
sum=$(grep '^SUMMARY' "$T/unprot.out")
why=''
case $sum in *" refused=0") ;; *) why="refused: $(grep REFUSED "$T/unprot.out" | head -n 3 | tr '\n' ';')" ;; esac
[ "$(grep -c OBTAINED "$T/unprot.out")" -gt 3 ] || why="$why too few fds obtained;"
grep -q '"state": "disabled"' "$T/st3.json" || why="$why status does not say disabled;"
check control-unprotected-contained "every map/prog/link/pin fd from unshare -m with --no-self-protect: $sum" "$why"
kill -TERM $AGENT; wait $AGENT
SOCK4=$T/sock4
start_agent "$SOCK4" unshare -p -f --mount-proc palisade --socket "$SOCK4" agent --nri-socket none --bpf-pin-dir none
sp=$(palisade --socket "$SOCK4" status 2>/dev/null | grep self-protect)
why=''
case $sp in *UNAVAILABLE*hostPID*) ;; *) why="status says: $sp" ;; esac
check not-hostpid-unavailable "$sp" "$why"
kill -TERM $AGENT; wait $AGENT

rm -rf "$PIN"
check host-removes-pins "rm -rf $PIN" "$([ -e "$PIN" ] && echo 'pins still there')"
echo "SUMMARY pass=$pass fail=$fail"
[ $fail = 0 ]
