//! The `demo:` section of a library policy: shell commands that trigger the policy, what each must
//! do, and the enforcement event the first triggering command produces. Checked against the policy
//! itself (the rule must exist and name the operation), so a demo cannot silently go stale.
//!
//! ```yaml
//! demo:
//!   setup: echo x > /etc/demo     # optional, runs first, outside the policy
//!   steps:                        # each runs as: palisade run --policy NAME -- sh -c RUN
//!     - run: echo x >> /etc/hostname
//!       expect: denied            # denied | killed | allowed
//!   event:                        # the process_lsm event of the first denied/killed/audited step
//!     rule: etc-immutable         # omit for an event of spec.defaultAction
//!     operation: write
//!     action: deny                # enforcement.action in the event
//!     path: /etc/hostname         # or destination: 169.254.169.254:80
//! ```

use serde::Serialize;

use super::{
    error::{expected_one_of, Sink},
    model::{Action, Mode, Operation, Policy},
    yaml::{Fields, Node},
};

/// A policy's demo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Demo {
    /// `sh -c` command run before the steps, without the policy (creates what the steps touch).
    pub setup: Option<String>,
    /// Commands, in order.
    pub steps: Vec<Step>,
    /// The expected enforcement event.
    pub event: Option<ExpectedEvent>,
}

/// One shell command and its expected outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `sh -c` command line.
    pub run: String,
    /// `denied` (fails with EPERM/EACCES), `killed` (SIGKILL), `allowed` (succeeds).
    pub expect: String,
}

/// Fields of the expected `process_lsm` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedEvent {
    /// `enforcement.rule`; `None` for the default action.
    pub rule: Option<String>,
    /// `enforcement.operation`.
    pub operation: String,
    /// `enforcement.action`.
    pub action: String,
    /// The file path in the event's args, when the operation is a path operation.
    pub path: Option<String>,
    /// The destination in the event's args, for connect.
    pub destination: Option<String>,
}

const EXPECTS: [&str; 3] = ["denied", "killed", "allowed"];

/// Checks a `demo:` node against `policy`.
pub fn parse(node: &Node, name: &str, policy: &Policy, sink: &mut Sink) -> Option<Demo> {
    let f = Fields::new(node, &["setup", "steps", "event"], sink, "demo")?;
    let setup = f
        .get("setup")
        .and_then(|s| s.str(sink, "demo.setup"))
        .map(str::to_owned);
    let before = sink.error_count();
    let mut steps = Vec::new();
    if let Some(list) = f
        .require("steps", sink, "demo")
        .and_then(|s| s.seq(sink, "demo.steps"))
    {
        if list.is_empty() {
            sink.error(node.pos, "demo.steps is empty");
        }
        for s in list {
            let Some(sf) = Fields::new(s, &["run", "expect"], sink, "a demo step") else {
                continue;
            };
            let run = sf
                .require("run", sink, "demo step")
                .and_then(|r| r.str(sink, "run"));
            let expect = sf.require("expect", sink, "demo step").and_then(|e| {
                let v = e.str(sink, "expect")?;
                if !EXPECTS.contains(&v) {
                    sink.error(
                        e.pos,
                        format!(
                            "unknown expectation \"{v}\" ({})",
                            expected_one_of(v, &EXPECTS)
                        ),
                    );
                }
                Some(v)
            });
            if let (Some(run), Some(expect)) = (run, expect) {
                steps.push(Step {
                    run: run.to_owned(),
                    expect: expect.to_owned(),
                });
            }
        }
    }
    let event = f.get("event").and_then(|e| event(e, name, policy, sink));
    (sink.error_count() == before).then_some(Demo {
        setup,
        steps,
        event,
    })
}

fn event(node: &Node, name: &str, policy: &Policy, sink: &mut Sink) -> Option<ExpectedEvent> {
    let f = Fields::new(
        node,
        &["rule", "operation", "action", "path", "destination"],
        sink,
        "demo.event",
    )?;
    let rule = match f.get("rule") {
        None => None,
        Some(r) => {
            let s = r.str(sink, "demo.event.rule")?;
            if !policy.rules.iter().any(|x| x.name == s) {
                let names: Vec<&str> = policy.rules.iter().map(|x| x.name.as_str()).collect();
                sink.error(
                    r.pos,
                    format!(
                        "policy \"{name}\" has no rule \"{s}\" ({})",
                        expected_one_of(s, &names)
                    ),
                );
                return None;
            }
            Some(s.to_owned())
        }
    };
    let rule_ref = rule
        .as_ref()
        .and_then(|r| policy.rules.iter().find(|x| &x.name == r));
    let op_node = f.require("operation", sink, "demo.event")?;
    let op_name = op_node.str(sink, "demo.event.operation")?;
    let Some(op) = Operation::from_name(op_name) else {
        let names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
        sink.error(
            op_node.pos,
            format!(
                "unknown operation \"{op_name}\" ({})",
                expected_one_of(op_name, &names)
            ),
        );
        return None;
    };
    if let Some(r) = rule_ref {
        if !r.operations.contains(&op) {
            sink.error(
                op_node.pos,
                format!("rule \"{}\" does not name operation \"{op_name}\"", r.name),
            );
        }
    }
    // The action the event reports: the rule's (or the default action), audit in audit mode.
    let decided = match rule_ref {
        Some(r) => Some(r.action),
        None => policy.default_action,
    };
    let reported = match (policy.mode, decided) {
        (Mode::Audit, Some(Action::Deny | Action::DenyAndKill)) => Some(Action::Audit),
        (_, a) => a,
    };
    let action_node = f.require("action", sink, "demo.event")?;
    let action = action_node.str(sink, "demo.event.action")?;
    match reported {
        Some(a) if a.as_str() == action => {}
        Some(a) => sink.error(
            action_node.pos,
            format!(
                "the event would report action \"{}\", not \"{action}\"",
                a.as_str()
            ),
        ),
        None => sink.error(
            node.pos,
            "demo.event without a rule needs spec.defaultAction",
        ),
    }
    let path = f
        .get("path")
        .and_then(|p| p.str(sink, "demo.event.path"))
        .map(str::to_owned);
    let destination = f
        .get("destination")
        .and_then(|p| p.str(sink, "demo.event.destination"))
        .map(str::to_owned);
    Some(ExpectedEvent {
        rule,
        operation: op_name.to_owned(),
        action: action.to_owned(),
        path,
        destination,
    })
}
