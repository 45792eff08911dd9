#!/bin/sh
# Container enforcement end to end, run as root INSIDE the kernel lab guest (busybox sh), from
# /lab as assembled by integration/lab-containers/run.sh:
#
#   /lab/guest.sh [--expect-mechanism bpf_lsm|fmod_ret] [--only cri|podman|guard]
#
# 1. containerd 1.7 + runc over CRI (cri-run) with `palisade agent` connected over NRI:
#    a pod annotated palisade.dev/policies=protect-etc cannot rm /etc/shadow (EPERM), the file in
#    its overlay rootfs is byte for byte the image's and the upperdir holds no whiteout, and the
#    agent exports a process_lsm event naming the pod; the same pod without the annotation
#    deletes the file; an unknown policy name refuses the start.
# 2. podman 4.3 with install/hooks.d/palisade.json: the annotated container's first instruction
#    `rm /etc/shadow` fails with EPERM and the event carries its id and name; without the
#    annotation rm works.
# 3. Fail closed: with the agent gone the hook makes podman refuse the container; with a hook
#    that passes --fail-open it starts.
# 4. (--only guard) The fail-closed guard while the NRI plugin is down: with `--fail-closed
#    deny` and the agent SIGKILLed, a new pod cannot start and an existing pod's new container
#    is refused, their commands never run; a restarted agent lets new pods run again and
#    exports the guard's decisions (`palisade-fail-closed`); with `audit` the pod starts and the
#    audit event appears after the restart.
# One row per check (PASS/FAIL), `EVENT <case> <json>` lines with the matching export lines (for
# integration/tests/lab_containers.rs), `TIME <what> <secs>` lines, a summary; exit 1 on any FAIL.
set -u
LAB=$(cd "$(dirname "$0")" && pwd)
MECH=bpf_lsm ONLY=''
while [ $# -gt 0 ]; do
  case $1 in
    --expect-mechanism) MECH=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "guest.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
T=/tmp/lab-containers
mkdir -p "$T"
EV=$T/events.json
IMAGE=localhost/shadow:lab
CRI_LOGS=/tmp/palisade-it-logs
pass=0 fail=0
row() { # row NAME PASS|FAIL DETAIL
  printf '%-30s %-5s %s\n' "$1" "$2" "$3"
  if [ "$2" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}
check() { # check NAME DETAIL-IF-PASS WHY-IF-FAIL  (fails when WHY is non-empty)
  if [ -z "$3" ]; then row "$1" PASS "$2"; else row "$1" FAIL "$3"; fi
}
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { echo "TIME $1 $(since "$2")"; }
# First export line containing every fixed string given.
find_event() {
  [ -f "$EV" ] || return 1
  cp "$EV" "$T/ev.sel"
  for pat in "$@"; do grep -F -- "$pat" "$T/ev.sel" > "$T/ev.next"; mv "$T/ev.next" "$T/ev.sel"; done
  head -n 1 "$T/ev.sel"
}
wait_event() { # wait_event SECS PAT...
  secs=$1; shift
  i=0
  while [ "$i" -lt $((secs * 5)) ]; do
    line=$(find_event "$@")
    [ -n "$line" ] && { echo "$line"; return 0; }
    sleep 0.2; i=$((i + 1))
  done
  return 1
}
wait_for() { # wait_for SECS CMD... : poll until CMD succeeds
  secs=$1; shift
  i=0
  while [ "$i" -lt $((secs * 5)) ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2; i=$((i + 1))
  done
  return 1
}
dump() { # dump FILE: its tail, indented, for a failure's context
  [ -f "$1" ] && { echo "--- tail of $1"; tail -n "${2:-25}" "$1" | sed 's/^/    /'; }
}

echo "# kernel $(uname -r), LSMs: $(cat /sys/kernel/security/lsm), expected mechanism: $MECH"
missing=''
for b in palisade containerd containerd-shim-runc-v2 ctr runc cri-run podman conmon; do
  command -v "$b" >/dev/null || missing="$missing $b"
done
[ -z "$missing" ] || { echo "guest.sh: missing in the guest:$missing" >&2; exit 2; }
grep -qw overlay /proc/filesystems || { echo "guest.sh: overlayfs not available (--modules overlay)" >&2; exit 2; }

# --- the agent: with NRI when containerd runs here, else the API socket only (podman hook)
start_agent() { # start_agent NRI-SOCKET|none [AGENT-ARGS...]
  sock=$1; shift
  palisade agent --nri-socket "$sock" --export-file "$EV" "$@" >> "$T/agent.log" 2>&1 &
  AGENT=$!
}
agent_ready() { palisade status -o json 2>/dev/null | grep -q "\"nri\": *\"$1\""; }

start_containerd() {
  t=$(now)
  mkdir -p /var/lib/containerd /run/containerd "$CRI_LOGS"
  # CRI copies the node's resolv.conf into every sandbox, host-network ones too; the lab has none.
  [ -e /etc/resolv.conf ] || echo 'nameserver 127.0.0.1' > /etc/resolv.conf
  containerd --config "$LAB/containerd.toml" --log-level debug > "$T/containerd.log" 2>&1 &
  CTRD=$!
  if ! wait_for 60 ctr --connect-timeout 2s version || ! wait_for 30 grep -q 'Registered namespace .*k8s.io.* with NRI' "$T/containerd.log"; then
    echo "guest.sh: containerd did not come up with NRI" >&2; dump "$T/containerd.log" 40; exit 1
  fi
  for img in pause shadow; do
    ctr -n k8s.io images import "$LAB/images/$img.tar" > /dev/null || { echo "guest.sh: ctr import $img failed" >&2; exit 1; }
  done
  timing containerd-ready+import "$t"
}

# --- containerd (for the CRI cases), then the agent: registered over NRI, or API only
CTRD=''
t=$(now)
if [ "$ONLY" != podman ]; then
  start_containerd
  t=$(now)
  if [ "$ONLY" = guard ]; then
    EV=$T/events-audit1.json
    start_agent /var/run/nri/nri.sock --fail-closed audit
  else
    start_agent /var/run/nri/nri.sock
  fi
  ready='agent_ready registered'
else
  start_agent none
  ready='palisade status'
fi
# shellcheck disable=SC2086  # $ready is a command line
if wait_for 240 $ready; then
  row agent-ready PASS "agent loaded and ready ($ready) in $(since "$t") s"
else
  row agent-ready FAIL "not ready ($ready) after $(since "$t") s"; dump "$T/agent.log" 40; exit 1
fi
timing agent-load+ready "$t"

# cri_case NAME ANNOTATION|'' : starts the pod whose entrypoint removes /etc/shadow, then sleeps
# (long enough to inspect its rootfs even on a loaded TCG guest; the pod is removed right after); sets RC (the rm's exit status from the CRI log),
# LOG, ROOTFS_SAME (cmp result), WHITEOUT (yes/no: upperdir has etc/shadow), POD, CID.
cri_case() {
  name=$1 ann=$2
  set -- cri-run start "$name" --image "$IMAGE"
  [ -n "$ann" ] && set -- "$@" --annotation "palisade.dev/policies=$ann"
  mkdir -p "$CRI_LOGS/lab-$name"
  t=$(now)
  out=$("$@" -- sh -c 'rm /etc/shadow; echo rc=$?; sleep 30' 2>&1)
  crc=$?
  timing "cri-start-$name" "$t"
  RC='' ROOTFS_SAME='' WHITEOUT='' POD='' CID=''
  LOG=$CRI_LOGS/lab-$name/app.log
  case $out in pod=*) ;; *) echo "cri-run start $name failed (rc $crc): $out"; return 1 ;; esac
  POD=${out#pod=}; POD=${POD%% *}; CID=${out##*container=}
  wait_for 15 grep -q 'rc=' "$LOG"
  RC=$(sed -n 's/.*[ F]rc=\([0-9]*\)$/\1/p' "$LOG" | head -n 1)
  rootfs=/run/containerd/io.containerd.runtime.v2.task/k8s.io/$CID/rootfs
  if cmp -s "$rootfs/etc/shadow" "$LAB/image-shadow"; then ROOTFS_SAME=yes; else ROOTFS_SAME=no; fi
  upper=$(grep " $rootfs overlay " /proc/mounts | sed -n 's/.*upperdir=\([^,]*\).*/\1/p')
  if [ -z "$upper" ]; then WHITEOUT=unknown
  elif ls -l "$upper/etc/shadow" 2>/dev/null | grep -q '^c'; then WHITEOUT=yes
  elif [ -e "$upper/etc/shadow" ]; then WHITEOUT=copied-up
  else WHITEOUT=no; fi
  # StopPodSandbox kills the sleeping container (timeout 0)
  cri-run rm "$POD" >/dev/null || echo "removing pod $POD failed"
  return 0
}

if [ -z "$ONLY" ] || [ "$ONLY" = cri ]; then
  # (a) annotated pod: denied inline, file intact, event names pod, policy, hook, mechanism
  if cri_case shadow-protected protect-etc; then
    why=''
    [ "$RC" = 1 ] || why="$why rm exit status '$RC' (want 1);"
    grep -q 'Operation not permitted' "$LOG" || why="$why no EPERM in the container's log;"
    [ "$ROOTFS_SAME" = yes ] || why="$why rootfs /etc/shadow differs from the image's;"
    [ "$WHITEOUT" = no ] || why="$why upperdir etc/shadow: $WHITEOUT;"
    ev=$(wait_event 10 '"process_lsm"' '"name":"shadow-protected"' '"function_name":"security_path_unlink"')
    [ -n "$ev" ] || why="$why no process_lsm event for pod shadow-protected;"
    for want in '"namespace":"lab"' '"policy_name":"protect-etc"' "\"mechanism\":\"$MECH\"" \
        '"prevented":true' '"path":"/etc/shadow"' "\"id\":\"containerd://$CID\""; do
      case $ev in *"$want"*) ;; *) [ -z "$ev" ] || why="$why event lacks $want;" ;; esac
    done
    [ -n "$ev" ] && echo "EVENT cri-protected $ev"
    check cri-annotated-rm-denied "rm rc=$RC EPERM, rootfs shadow == image, no whiteout, event ok" "$why"
    [ -z "$why" ] || { dump "$LOG"; dump "$T/agent.log"; }
  else
    row cri-annotated-rm-denied FAIL "pod did not run"; dump "$T/containerd.log" 30
  fi

  # (b) the same pod without the annotation deletes the file
  if cri_case shadow-open ''; then
    why=''
    [ "$RC" = 0 ] || why="$why rm exit status '$RC' (want 0);"
    [ "$WHITEOUT" = yes ] || why="$why upperdir etc/shadow: $WHITEOUT (want a whiteout);"
    [ "$ROOTFS_SAME" = no ] || why="$why /etc/shadow still in the rootfs;"
    ev=$(find_event '"process_lsm"' '"name":"shadow-open"')
    [ -z "$ev" ] || why="$why unexpected event $ev;"
    check cri-plain-rm-allowed "rm rc=0, whiteout in the upperdir, no event" "$why"
  else
    row cri-plain-rm-allowed FAIL "pod did not run"; dump "$T/containerd.log" 30
  fi

  # (c) an unknown policy name refuses the start (fail closed)
  out=$(cri-run start shadow-unknown --image "$IMAGE" --annotation palisade.dev/policies=no-such-policy -- true 2>&1)
  crc=$?
  why=''
  [ "$crc" = 3 ] || why="$why cri-run exit $crc (want 3 = start refused): $out;"
  case $out in *no-such-policy*) ;; *) why="$why refusal does not name the policy: $out;" ;; esac
  check cri-unknown-policy-refused "$out" "$why"
fi

if [ -z "$ONLY" ] || [ "$ONLY" = podman ]; then
  # --- podman with the shipped hooks.d file
  t=$(now)
  mkdir -p /etc/containers/oci/hooks.d /usr/share/containers /var/lib/containers /run/containers /var/tmp
  cp "$LAB/podman/containers.conf" "$LAB/podman/storage.conf" "$LAB/podman/policy.json" /etc/containers/
  cp "$LAB/podman/share/"* /usr/share/containers/
  cp "$LAB/hooks.d/palisade.json" /etc/containers/oci/hooks.d/
  if ! podman load -i "$LAB/images/shadow.tar" > "$T/podman-load.log" 2>&1; then
    row podman-load FAIL "$(tail -n 5 "$T/podman-load.log" | tr '\n' ' ')"
  fi
  timing podman-load "$t"
  PGLOBAL=''
  prun() { # prun NAME RUN-ARGS... : podman $PGLOBAL run, output in $T/NAME.out, status in PRC
    n=$1; shift
    t=$(now)
    # shellcheck disable=SC2086  # PGLOBAL is a word list
    podman $PGLOBAL run --name "$n" "$@" > "$T/$n.out" 2>&1
    PRC=$?
    timing "podman-run-$n" "$t"
  }
  shadow_in() { # shadow_in NAME : same|gone|differs, read through podman mount
    m=$(podman mount "$1" 2>/dev/null)
    if [ -z "$m" ]; then echo unmountable
    elif cmp -s "$m/etc/shadow" "$LAB/image-shadow"; then echo same
    elif [ ! -e "$m/etc/shadow" ]; then echo gone
    else echo differs; fi
    podman umount "$1" >/dev/null 2>&1
  }

  # (d) annotated: the entrypoint's first instruction is the rm, and it is denied.
  #     podman_denied ROW NAME [RUN-ARGS...]; its event is printed as an `EVENT NAME json` line.
  podman_denied() {
    rowname=$1 n=$2; shift 2
    prun "$n" --annotation palisade.dev/policies=protect-etc "$@" "$IMAGE" sh -c 'rm /etc/shadow'
    id=$(podman inspect -f '{{.Id}}' "$n" 2>/dev/null)
    state=$(shadow_in "$n")
    why=''
    [ "$PRC" != 0 ] || why="$why podman run exited 0;"
    grep -q "can't remove '/etc/shadow': Operation not permitted" "$T/$n.out" || why="$why rm did not fail with EPERM: $(head -c 300 "$T/$n.out");"
    [ "$state" = same ] || why="$why /etc/shadow in the container: $state;"
    ev=$(wait_event 10 '"process_lsm"' '"function_name":"security_path_unlink"' "\"id\":\"$id\"")
    [ -n "$ev" ] && echo "EVENT $n $ev"
    if [ -z "$id" ] || [ -z "$ev" ]; then
      why="$why no process_lsm unlink event carrying container id '$id';"
    else
      for want in '"policy_name":"protect-etc"' "\"mechanism\":\"$MECH\"" '"prevented":true' '"path":"/etc/shadow"'; do
        case $ev in *"$want"*) ;; *) why="$why event lacks $want;" ;; esac
      done
    fi
    check "$rowname" "podman rc=$PRC, rm EPERM, shadow intact, event with id $(echo "$id" | cut -c1-12)" "$why"
    [ -z "$why" ] || { dump "$T/$n.out"; echo "--- its process_lsm events (binary, decision):"
      grep -F '"process_lsm"' "$EV" | grep -F "$id" | head -n 3 |
        sed 's/.*\("binary":"[^"]*"\).*\("function_name".*\)/    \1 \2/' | cut -c1-600; }
    # the container's name, separately: podman puts it in no OCI annotation the hook reads
    case $ev in
      *"\"name\":\"$n\""*) row "$rowname-name" PASS "event names the container $n" ;;
      *) row "$rowname-name" FAIL "no event naming the container $n" ;;
    esac
  }
  podman_denied podman-annotated-rm-denied pal-protected
  # The same with --security-opt unmask=ALL: runc then makes no bind mounts (read-only and masked
  # /proc paths) after the createRuntime hook, which palisade's mount guard otherwise refuses.
  podman_denied podman-unmasked-rm-denied pal-unmasked --security-opt unmask=ALL

  # (e) without the annotation the hook does not run and rm works
  prun pal-open "$IMAGE" sh -c 'rm /etc/shadow'
  state=$(shadow_in pal-open)
  why=''
  [ "$PRC" = 0 ] || why="$why podman run exited $PRC: $(head -c 300 "$T/pal-open.out");"
  [ "$state" = gone ] || why="$why /etc/shadow in the container: $state;"
  check podman-plain-rm-allowed "rm succeeded, /etc/shadow gone" "$why"

  # (f) fail closed: agent stopped -> the hook refuses the annotated container
  kill "$AGENT"; wait "$AGENT" 2>/dev/null
  prun pal-closed --annotation palisade.dev/policies=protect-etc "$IMAGE" sh -c 'echo RAN'
  why=''
  [ "$PRC" != 0 ] || why="$why podman run exited 0;"
  ! grep -q RAN "$T/pal-closed.out" || why="$why the entrypoint ran;"
  check podman-hook-fail-closed "refused: $(grep -o 'palisade oci-hook:[^"]*' "$T/pal-closed.out" | head -n 1 | cut -c1-160)" "$why"
  [ -z "$why" ] || dump "$T/pal-closed.out"

  # (g) --fail-open: the same container starts (unprotected) with the agent still gone
  PGLOBAL="--hooks-dir $LAB/hooks-failopen"
  prun pal-failopen --annotation palisade.dev/policies=protect-etc "$IMAGE" sh -c 'echo RAN'
  why=''
  [ "$PRC" = 0 ] || why="$why podman run exited $PRC: $(head -c 300 "$T/pal-failopen.out");"
  grep -q RAN "$T/pal-failopen.out" || why="$why the entrypoint did not run;"
  check podman-hook-fail-open "started without an agent (--fail-open)" "$why"
fi

if [ "$ONLY" = guard ]; then
  # Order: audit first, then deny, so that three agent starts cover both modes (each start is
  # 14-25 s under TCG). Every new agent adopts the pinned guard and exports what it decided.
  guard_json() { palisade status -o json 2>/dev/null | tr -d ' \n'; }
  # restart_agent EVENTS-FILE AGENT-ARGS... : a new agent (adopting the pinned guard), registered
  restart_agent() {
    EV=$1; shift
    t=$(now)
    start_agent /var/run/nri/nri.sock "$@"
    wait_for 240 agent_ready registered || { echo "agent did not re-register"; dump "$T/agent.log" 30; return 1; }
    timing agent-restart "$t"
  }
  # gstart NAME CMD : cri-run start, output in OUT, status in CRC
  gstart() {
    n=$1; shift
    mkdir -p "$CRI_LOGS/lab-$n"
    t=$(now)
    OUT=$(cri-run start "$n" --image "$IMAGE" -- sh -c "$1" 2>&1)
    CRC=$?
    timing "cri-start-$n" "$t"
  }
  ran() { grep -qs "$1" "$CRI_LOGS/lab-$2/"*.log; }
  rm_pod() { case $1 in pod=*) cri-run rm "$(echo "${1#pod=}" | cut -d' ' -f1)" >/dev/null 2>&1 ;; esac; }
  ticks() { grep -c A-TICK "$CRI_LOGS/lab-guard-a/app.log"; }

  # (h) a pod running before the agent dies; its tree becomes a guard root. Its loop execs a
  #     binary every second: a registered container keeps working while the guard is on.
  gstart guard-a 'echo A-RAN; i=0; while [ $i -lt 300 ]; do /bin/busybox echo A-TICK; i=$((i+1)); sleep 1; done'
  POD_A=${OUT#pod=}; POD_A=${POD_A%% *}
  g=$(guard_json)
  why=''
  [ "$CRC" = 0 ] || why="$why pod guard-a did not start (rc $CRC): $OUT;"
  case $g in *'"mode":"audit"'*) ;; *) why="$why status lacks guard mode audit;" ;; esac
  case $g in *'"active":false'*) ;; *) why="$why guard active while registered;" ;; esac
  case $g in *'"roots":['*'/k8s.io"'*) ;; *) why="$why guard roots lack containerd's k8s.io tree: $(echo "$g" | grep -o '"roots":[^]]*]');" ;; esac
  check guard-armed "pod ran, guard (audit) armed, root .../k8s.io" "$why"
  [ -z "$why" ] || { palisade status; dump "$T/agent.log" 30; }

  # (i) audit, agent SIGKILLed: a new pod starts and runs
  kill -9 "$AGENT"; wait "$AGENT" 2>/dev/null
  sleep 1
  gstart guard-e 'echo E-RAN; sleep 5'
  E_OUT=$OUT
  why=''
  [ "$CRC" = 0 ] || why="$why pod guard-e did not start (rc $CRC): $OUT;"
  wait_for 20 ran E-RAN guard-e || why="$why guard-e's command did not run;"
  check guard-audit-pod-runs "agent dead, audit: pod guard-e started and ran" "$why"

  # (j) a new agent, now in deny mode: it exports the audit records from while none ran
  if ! restart_agent "$T/events-deny1.json" --fail-closed deny; then
    row guard-audit-event FAIL "agent did not come back"
  else
    ev=$(wait_event 20 '"process_lsm"' '"policy_name":"palisade-fail-closed"' '"action":"audit"' '"path":"/sys/fs/cgroup/k8s.io/')
    [ -n "$ev" ] || ev=$(find_event '"process_lsm"' '"policy_name":"palisade-fail-closed"' '"action":"audit"')
    why=''
    [ -n "$ev" ] || why="no palisade-fail-closed audit event exported;"
    case $ev in *'"prevented":false'*|'') ;; *) why="$why audit event says prevented;" ;; esac
    [ -n "$ev" ] && echo "EVENT guard-audit $ev"
    check guard-audit-event "audit event exported after the restart" "$why"
  fi
  rm_pod "$E_OUT"
  g=$(guard_json)
  case $g in *'"mode":"deny"'*'"active":false'*|*'"active":false'*'"mode":"deny"'*) ;; *) echo "guard not in deny mode / still active: $g" ;; esac

  # (k) deny, agent SIGKILLed: a new pod cannot start (containerd 1.7 runs NRI RunPodSandbox
  #     after the pause process started, so its exec is the one refused) and its command never
  #     runs; a new container in the running pod is refused too; the registered pod carries on
  kill -9 "$AGENT"; wait "$AGENT" 2>/dev/null
  sleep 1
  before=$(ticks)
  gstart guard-b 'echo B-RAN; sleep 5'
  why=''
  case $OUT in pod=*) why="$why pod guard-b started with the agent dead: $OUT;" ; rm_pod "$OUT" ;; esac
  ! ran B-RAN guard-b || why="$why guard-b's command ran;"
  check guard-deny-new-pod "refused: $(echo "$OUT" | tail -n 1 | cut -c1-200)" "$why"
  t=$(now)
  OUT=$(cri-run add "$POD_A" guard-a c2 --image "$IMAGE" -- sh -c 'echo C-RAN' 2>&1)
  CRC=$?
  timing cri-add-c2 "$t"
  why=''
  [ "$CRC" != 0 ] || why="$why container c2 started: $OUT;"
  ! ran C-RAN guard-a || why="$why c2's command ran;"
  check guard-deny-new-container "refused: $(echo "$OUT" | tail -n 1 | cut -c1-200)" "$why"
  sleep 2
  after=$(ticks)
  why=''
  [ "$after" -gt "$before" ] || why="guard-a's loop stopped exec'ing ($before -> $after ticks);"
  check guard-deny-known-untouched "registered pod kept exec'ing: $before -> $after ticks" "$why"

  # (l) a new agent: the guard's deny records are exported, it is disarmed, new pods run
  if restart_agent "$T/events-deny2.json" --fail-closed deny; then
    g=$(guard_json)
    why=''
    case $g in *'"active":false'*) ;; *) why="$why guard still active after re-registration;" ;; esac
    gstart guard-d 'echo D-RAN; sleep 5'
    [ "$CRC" = 0 ] || why="$why pod guard-d did not start (rc $CRC): $OUT;"
    wait_for 20 ran D-RAN guard-d || why="$why guard-d's command did not run;"
    rm_pod "$OUT"
    check guard-deny-restart-runs "agent back, guard disarmed, pod guard-d ran" "$why"
    ev=$(wait_event 20 '"process_lsm"' '"policy_name":"palisade-fail-closed"' '"action":"deny"')
    why=''
    [ -n "$ev" ] || why="no palisade-fail-closed deny event exported;"
    for want in "\"mechanism\":\"$MECH\"" '"prevented":true' '"operation":"exec"' '"rule":"unregistered-container"' '"error":"EPERM"'; do
      case $ev in *"$want"*) ;; *) [ -z "$ev" ] || why="$why event lacks $want;" ;; esac
    done
    [ -n "$ev" ] && echo "EVENT guard-deny $ev"
    echo "# guard events after the restart (kind, action, binary):"
    grep '^{"process_lsm".*"policy_name":"palisade-fail-closed"' "$EV" | sed 's/^{"\([a-z_]*\)".*"action":"\([A-Z_]*\)".*"args":\[{"path_arg":{"path":"\([^"]*\)".*/  \1 \2 \3/' | cut -c1-200
    check guard-deny-event "$(grep -c '^{"process_lsm".*"policy_name":"palisade-fail-closed"' "$EV") guard events exported after the restart" "$why"
  else
    row guard-deny-restart-runs FAIL "agent did not come back"
  fi
  cri-run rm "$POD_A" >/dev/null 2>&1
  echo "# guard status at the end:"; palisade status | grep -A3 fail-closed
fi

# --- teardown (pods are gone already; the shims exit with them)
[ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null
[ -n "$CTRD" ] && { kill "$CTRD" 2>/dev/null; wait "$CTRD" 2>/dev/null; }
echo "# summary: $pass passed, $fail failed"
[ "$fail" = 0 ]
