//! Issue 7, self-protection, in the kernel lab (BPF LSM is refused on the dev hosts):
//! `integration/lab/protect-run.sh` boots Debian's 6.12 cloud kernel, starts `palisade agent`
//! with pins under /sys/fs/bpf/palisade, and `protect.sh` attacks it as root with every
//! capability from "containers" (`unshare -m`, like a hostPID privileged container, and
//! `unshare -p -f -m --mount-proc`) with `protect-attack`: fds of every palisade map, program
//! and link by id and by pin, map updates/deletes and link detaches with whatever it got,
//! unlink/rename of every pin, ptrace, /proc/<agent>/environ, SIGKILL and SIGTERM of the agent,
//! plus `kill -9`, `rm -rf` and `mv` from busybox, and map/link fds obtained on the host and used
//! after entering a new mount namespace (an fd that leaked into a container). Every attempt must be refused (EPERM/EACCES)
//! and reported as a `palisade-self-protection` event; the agent must survive with its pins
//! intact and still enforce protect-etc. Controls: the same attacker from the host namespaces
//! obtains every fd, and so does the contained one against an agent run with
//! `--no-self-protect`; host root can still stop the agent and remove the pins; an agent
//! outside the host pid namespace reports self-protection unavailable.
//!
//! Two runs (~40 s each under TCG): the `bpf` LSM active (BPF LSM programs) and not active
//! (fmod_ret programs). Needs root, the lab kernels (fetched on demand) and
//! `cargo build --release -p palisade`; a missing prerequisite FAILS with the command to run.

use std::sync::Mutex;

use palisade_integration::{agent::require_root, lab};
use serde_json::Value;

static ONE_GUEST_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Every check protect.sh reports; each must be present and PASS.
const ROWS: &[&str] = &[
    "agent-protect-active",
    "control-host-obtains-fds",
    "contained-hostpid-attack",
    "contained-pidns-attack",
    "contained-leaked-fds",
    "contained-kill-9",
    "contained-rm-mv-pins",
    "agent-alive",
    "pins-intact",
    "refusals-reported",
    "enforcement-after-attacks",
    "host-stops-agent",
    "control-unprotected-contained",
    "not-hostpid-unavailable",
    "host-removes-pins",
];

fn check(lsm: Option<&str>, mechanism: &str) {
    require_root();
    let _one = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let mut cmd = lab::script("lab/protect-run.sh");
    cmd.args(["--kernel", "6.12"]);
    if let Some(l) = lsm {
        cmd.args(["--lsm", l]);
    }
    cmd.env(
        "PALISADE_PROTECT_ATTACK",
        env!("CARGO_BIN_EXE_protect-attack"),
    );
    let o = lab::run(cmd, ROWS);
    let mut problems = o.row_problems(ROWS);
    for (name, function, operation) in [
        ("kill", "security_task_kill", "kill"),
        ("map", "security_bpf_map", "bpf_map_fd"),
    ] {
        let Some(l) = o.events.get(name).map(|e| &e["process_lsm"]) else {
            problems.push(format!("no {name} refusal event"));
            continue;
        };
        for (ptr, want) in [
            ("/function_name", function),
            ("/policy_name", "palisade-self-protection"),
            ("/enforcement/operation", operation),
            ("/enforcement/mechanism", mechanism),
            ("/enforcement/error", "EPERM"),
            ("/process/binary", "/usr/local/bin/protect-attack"),
        ] {
            if l.pointer(ptr).and_then(Value::as_str) != Some(want) {
                problems.push(format!(
                    "{name} event: {ptr} is {:?}, want {want:?}",
                    l.pointer(ptr)
                ));
            }
        }
        if l.pointer("/enforcement/prevented") != Some(&Value::Bool(true)) {
            problems.push(format!("{name} event: enforcement.prevented is not true"));
        }
    }
    if !o.ok && problems.is_empty() {
        problems.push("protect-run.sh exited non-zero".into());
    }
    assert!(
        problems.is_empty(),
        "{mechanism}:\n  {}\n\n{}",
        problems.join("\n  "),
        o.output
    );
}

#[test]
fn contained_root_cannot_touch_palisade_with_bpf_lsm() {
    check(None, "bpf_lsm");
}

#[test]
fn contained_root_cannot_touch_palisade_with_fmod_ret() {
    check(Some("lockdown,capability,yama,apparmor"), "fmod_ret");
}
