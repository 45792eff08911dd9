//! Enforcement decisions as Tetragon-shaped `process_lsm` events.

use serde_json::json;

use crate::{
    enforce::Decision,
    events::model::{Body, Enforcement, Envelope, Process, ProcessLsm},
};

/// Tetragon's action spelling for a palisade action.
fn tetragon_action(action: &str) -> &'static str {
    match action {
        "deny" => "KPROBE_ACTION_OVERRIDE",
        "deny-and-kill" => "KPROBE_ACTION_SIGKILL",
        _ => "KPROBE_ACTION_POST",
    }
}

/// Builds the event for decision `d` made by `process` (child of `parent`).
pub fn envelope(
    d: &Decision,
    process: Process,
    parent: Option<Process>,
    node: &str,
    time: String,
) -> Envelope {
    let function_name = if d.operation == "connect" {
        format!("cgroup/{}", d.hook)
    } else {
        format!("security_{}", d.hook)
    };
    let mut args = Vec::new();
    if d.operation == "connect" {
        args.push(json!({"string_arg": d.path, "label": "destination"}));
    } else {
        args.push(json!({"path_arg": {"path": d.path}}));
        if !d.path2.is_empty() {
            args.push(json!({"path_arg": {"path": d.path2}}));
        }
    }
    let body = Body::ProcessLsm(Box::new(ProcessLsm {
        process,
        parent,
        function_name,
        policy_name: d.policy.clone(),
        action: tetragon_action(d.action).into(),
        args,
        enforcement: Enforcement {
            action: d.action.into(),
            mechanism: d.mechanism.into(),
            prevented: d.prevented,
            rule: d.rule.clone(),
            operation: d.operation.into(),
            error: (d.errno != 0).then(|| errno_name(d.errno)),
            killed: d.killed,
            fail_closed: d.path_truncated,
            by_inode: d.by_inode,
        },
    }));
    Envelope {
        body,
        node_name: node.into(),
        time,
    }
}

fn errno_name(e: i32) -> String {
    let e = e.abs();
    match nix::errno::Errno::from_raw(e) {
        nix::errno::Errno::UnknownErrno => format!("E{e}"),
        n => format!("{n:?}"),
    }
}
