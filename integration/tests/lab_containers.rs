//! Issues 4 and 5, kernel-lab criteria: real containers under palisade enforcement where BPF LSM
//! works. `integration/lab-containers/run.sh` boots each Debian cloud kernel with containerd 1.7,
//! runc, podman 4.3 and conmon from the host's packages, and `guest.sh` inside checks:
//! - CRI + NRI: a pod annotated `palisade.dev/policies: protect-etc` whose entrypoint runs
//!   `rm /etc/shadow` gets EPERM, its rootfs keeps the image's /etc/shadow byte for byte (no
//!   overlay whiteout), the agent exports a process_lsm event naming the pod; without the
//!   annotation the file is deleted; an unknown policy refuses the start.
//! - podman + install/hooks.d/palisade.json: same denial from the first instruction, event with
//!   the container id and name; no annotation, no protection; no agent: refused (fail closed),
//!   or started with --fail-open.
//!
//! Needs root, the lab kernels (fetched on demand), `integration/containerd/setup.sh
//! --with-podman`, and release builds of palisade and cri-run; a missing prerequisite FAILS the
//! test with the command to run. Each kernel takes 2.5-3.5 min under TCG; the two runs are
//! serialized (two TCG guests on two cores would only slow each other down).

use std::sync::Mutex;

use palisade_integration::{
    agent::require_root,
    lab::{self, LabRun},
};
use serde_json::Value;

static ONE_GUEST_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Every check guest.sh reports; each must be present and PASS.
const ROWS: &[&str] = &[
    "agent-ready",
    "cri-annotated-rm-denied",
    "cri-plain-rm-allowed",
    "cri-unknown-policy-refused",
    "podman-annotated-rm-denied",
    "podman-annotated-rm-denied-name",
    "podman-unmasked-rm-denied",
    "podman-unmasked-rm-denied-name",
    "podman-plain-rm-allowed",
    "podman-hook-fail-closed",
    "podman-hook-fail-open",
];

fn run(kernel: &str) -> LabRun {
    let mut cmd = lab::script("lab-containers/run.sh");
    cmd.args(["--kernel", kernel]);
    lab::run(cmd, ROWS)
}

/// Problems with the enforcement event `e` for `what`, expecting `who` (a JSON pointer and value).
fn event_problems(what: &str, e: Option<&Value>, who: &[(&str, &str)]) -> Vec<String> {
    let Some(e) = e else {
        return vec![format!("{what}: no EVENT line")];
    };
    let l = &e["process_lsm"];
    let mut want = vec![
        ("/function_name", "security_path_unlink"),
        ("/policy_name", "protect-etc"),
        ("/enforcement/mechanism", "bpf_lsm"),
        ("/enforcement/action", "deny"),
        ("/enforcement/error", "EPERM"),
        ("/args/0/path_arg/path", "/etc/shadow"),
    ];
    want.extend_from_slice(who);
    let mut problems: Vec<String> = want
        .iter()
        .filter(|(ptr, val)| l.pointer(ptr).and_then(Value::as_str) != Some(*val))
        .map(|(ptr, val)| format!("{what}: {ptr} is {:?}, want {val:?}", l.pointer(ptr)))
        .collect();
    if l.pointer("/enforcement/prevented") != Some(&Value::Bool(true)) {
        problems.push(format!("{what}: enforcement.prevented is not true"));
    }
    problems
}

fn check(kernel: &str) {
    require_root();
    let _one = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let o = run(kernel);
    let mut problems = o.row_problems(ROWS);
    problems.extend(event_problems(
        "CRI pod",
        o.events.get("cri-protected"),
        &[
            ("/process/pod/name", "shadow-protected"),
            ("/process/pod/namespace", "lab"),
            ("/process/pod/container/name", "app"),
        ],
    ));
    for (name, ev) in [
        ("pal-protected", "pal-protected"),
        ("pal-unmasked", "pal-unmasked"),
    ] {
        let e = o.events.get(ev);
        problems.extend(event_problems(
            name,
            e,
            &[("/process/pod/container/name", name)],
        ));
        let id = e
            .and_then(|e| e.pointer("/process_lsm/process/pod/container/id"))
            .and_then(Value::as_str);
        if !id.is_some_and(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())) {
            problems.push(format!(
                "{name}: container id {id:?} is not podman's 64-hex id"
            ));
        }
    }
    if !o.ok && problems.is_empty() {
        problems.push("guest.sh exited non-zero".into());
    }
    assert!(
        problems.is_empty(),
        "kernel {kernel}:\n  {}\n\n{}",
        problems.join("\n  "),
        o.output
    );
}

#[test]
fn containers_enforced_in_the_lab_on_6_1() {
    check("6.1");
}

#[test]
fn containers_enforced_in_the_lab_on_6_12() {
    check("6.12");
}
