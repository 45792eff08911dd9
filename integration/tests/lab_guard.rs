//! Issue 4's last item and issue 7's "plugin down at container start with fail-closed on", in the
//! kernel lab (Debian 6.12, BPF LSM active) with containerd 1.7 + runc over CRI:
//! `integration/lab-containers/run.sh --kernel 6.12 -- --only guard` runs guest.sh's guard case:
//! - `--fail-closed deny`, agent SIGKILLed: a new pod cannot start and a new container in a
//!   running pod is refused (their commands never run, proven by their CRI logs), while the
//!   registered pod keeps exec'ing; a restarted agent disarms the guard, a new pod runs, and the
//!   guard's decisions from while no agent ran are exported (`palisade-fail-closed`, bpf_lsm,
//!   prevented, EPERM).
//! - `--fail-closed audit`, agent SIGKILLed: the pod starts and runs, and the audit event is
//!   exported once the agent is back.
//!
//! Needs root, the lab kernels, `integration/containerd/setup.sh --with-podman`, and release
//! builds of palisade and cri-run; a missing prerequisite FAILS the test with the command to run.
//! One kernel only (the guard's BPF is the same on 6.1): about 3 minutes under TCG.

use palisade_integration::{agent::require_root, lab};
use serde_json::Value;

const ROWS: &[&str] = &[
    "agent-ready",
    "guard-armed",
    "guard-deny-new-pod",
    "guard-deny-new-container",
    "guard-deny-known-untouched",
    "guard-deny-restart-runs",
    "guard-deny-event",
    "guard-audit-pod-runs",
    "guard-audit-event",
];

fn field<'a>(e: &'a Value, ptr: &str) -> Option<&'a Value> {
    e.pointer(&format!("/process_lsm{ptr}"))
}

#[test]
fn plugin_down_at_container_start_with_fail_closed_on() {
    require_root();
    let mut cmd = lab::script("lab-containers/run.sh");
    cmd.args(["--kernel", "6.12", "--", "--only", "guard"]);
    let o = lab::run(cmd, ROWS);
    let mut problems = o.row_problems(ROWS);
    for (ev, action, prevented, mechanism) in [
        ("guard-deny", "deny", true, "bpf_lsm"),
        ("guard-audit", "audit", false, "bpf_lsm"),
    ] {
        let Some(e) = o.events.get(ev) else {
            problems.push(format!("{ev}: no EVENT line"));
            continue;
        };
        let want = [
            ("/policy_name", Value::from("palisade-fail-closed")),
            ("/enforcement/action", Value::from(action)),
            ("/enforcement/prevented", Value::from(prevented)),
            ("/enforcement/mechanism", Value::from(mechanism)),
            ("/enforcement/operation", Value::from("exec")),
            ("/enforcement/rule", Value::from("unregistered-container")),
        ];
        for (ptr, val) in want {
            if field(e, ptr) != Some(&val) {
                problems.push(format!("{ev}: {ptr} is {:?}, want {val}", field(e, ptr)));
            }
        }
        if field(e, "/args/0/path_arg/path")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(format!("{ev}: no binary path in args[0]"));
        }
    }
    if !o.ok && problems.is_empty() {
        problems.push("guest.sh exited non-zero".into());
    }
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        o.output
    );
}
