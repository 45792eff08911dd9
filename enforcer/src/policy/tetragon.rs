//! Import of Tetragon `TracingPolicy` / `TracingPolicyNamespaced` (cilium.io/v1alpha1) documents.
//!
//! Translatable: `kprobes` on the `security_*` functions in [`HOOKS`] (with `syscall: false`)
//! and `lsmhooks` on the same hooks; selectors with `matchArgs` (Equal, Prefix, Postfix, their
//! `Not` forms, Mask on access masks and mmap protections, DAddr/NotDAddr/DPort on connect
//! addresses), `matchBinaries` (In/NotIn/Prefix/NotPrefix/Postfix/NotPostfix) and `matchActions`
//! (Post -> audit, Override with argError -1 -> deny, Sigkill or Signal 9 (with or without
//! Override) -> deny-and-kill); `podSelector.matchLabels`, `containerSelector` on `name`, the
//! namespace of a namespaced policy, and `options` `policy-mode` (monitor -> audit mode).
//! Everything else is an error at the offending node that says why: nothing is ignored.
//!
//! Translation never narrows what the Tetragon policy acted on; it can widen it, because palisade
//! decides per operation class (e.g. `security_file_permission` with mask MAY_READ becomes the
//! `read` operation, denied at open, before any byte is read). Semantics that differ:
//! - Tetragon runs every matching hook; palisade takes the first matching rule. Rules keep file
//!   order; where a later hook shares an operation with an earlier, weaker one, the import fails
//!   and asks for the stronger hook first (hook order carries no meaning in Tetragon).
//! - `Not*` operators become an `allow` rule for the excluded values placed right before the
//!   selector's rule; this is only exact when no later rule shares an operation, which is checked.
//! - For `security_path_*` hooks the `path` argument is the parent directory; a Prefix on it
//!   becomes a prefix on the file's full path (the same files, plus names that continue the
//!   prefix). The `dentry` argument is taken as the file's path.
//! - `return`/`returnArg`, `message`, `tags` and selector `label` only shape Tetragon's events;
//!   they are accepted and do not change what is enforced.

use super::{
    error::{expected_one_of, PolicyErrors, Pos, Sink},
    model::{Action, Destination, Mode, NsPids, Operation, PathMatch, Policy, Rule, Selector},
    parse,
    yaml::{self, Fields, Node, Scalar},
};

/// Group prefix of Tetragon's `apiVersion`.
pub const API_GROUP: &str = "cilium.io/";
/// The supported Tetragon `apiVersion`.
pub const API_VERSION: &str = "cilium.io/v1alpha1";

/// Imports every document of a Tetragon policy file (Tetragon documents only). The CLI and the
/// store reach the importer through `parse::parse_documents_str`, which accepts both formats.
#[allow(dead_code)] // Public API for Tetragon-only input (issue 6); exercised by the unit tests.
pub fn import_tracing_policy_str(src: &str, file: &str) -> Result<Vec<Policy>, PolicyErrors> {
    let mut sink = Sink::new(file);
    let docs = yaml::load(src, &mut sink);
    if docs.is_empty() && sink.error_count() == 0 {
        sink.error(Pos::START, "no TracingPolicy document in this file");
    }
    let policies: Vec<Policy> = docs
        .iter()
        .filter_map(|d| import_node(d, &mut sink))
        .collect();
    let (errors, _warnings) = sink.finish();
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(PolicyErrors(errors))
    }
}

/// What a hook argument carries, which decides the operators it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The object's full path (`file`, `path`).
    Path,
    /// The parent directory of the object (`path` of `security_path_*` name operations).
    ParentDir,
    /// The object's dentry, read as its path.
    Entry,
    /// The executed file (`linux_binprm`).
    Binprm,
    /// `security_file_permission` access mask (MAY_*).
    Mask,
    /// `security_mmap_file` protection (PROT_*).
    Prot,
    /// `security_mmap_file` flags (MAP_*).
    MapFlags,
    /// `security_socket_connect` destination.
    Sockaddr,
    /// Present in the signature, not matchable here.
    Other,
}

impl Role {
    /// Tetragon arg types that may describe this role.
    fn types(self) -> &'static [&'static str] {
        match self {
            Role::Path => &["file", "path", "fd"],
            Role::ParentDir => &["path"],
            Role::Entry => &["dentry"],
            Role::Binprm => &["linux_binprm", "file"],
            Role::Mask | Role::Prot | Role::MapFlags => &[
                "int", "uint32", "int32", "sint32", "uint64", "int64", "ulong", "long",
            ],
            Role::Sockaddr => &["sockaddr"],
            Role::Other => &[],
        }
    }
}

/// A translatable hook.
struct Hook {
    /// kprobe `call`.
    kprobe: &'static str,
    /// `lsmhooks` `hook`.
    lsm: &'static str,
    /// Operations it covers when no argument narrows them.
    ops: &'static [Operation],
    /// Roles of its arguments by index.
    args: &'static [Role],
}

use Operation as Op;
use Role as R;

/// Hooks palisade can enforce on, by the operation classes they stand for.
const HOOKS: &[Hook] = &[
    Hook {
        kprobe: "security_file_open",
        lsm: "file_open",
        ops: &[Op::Read, Op::Write],
        args: &[R::Path],
    },
    Hook {
        kprobe: "security_file_permission",
        lsm: "file_permission",
        ops: &[Op::Read, Op::Write],
        args: &[R::Path, R::Mask],
    },
    Hook {
        kprobe: "security_mmap_file",
        lsm: "mmap_file",
        ops: &[Op::Read, Op::Write, Op::MmapExec],
        args: &[R::Path, R::Prot, R::MapFlags],
    },
    Hook {
        kprobe: "security_file_truncate",
        lsm: "file_truncate",
        ops: &[Op::Truncate],
        args: &[R::Path],
    },
    Hook {
        kprobe: "security_path_truncate",
        lsm: "path_truncate",
        ops: &[Op::Truncate],
        args: &[R::Path],
    },
    Hook {
        kprobe: "security_path_unlink",
        lsm: "path_unlink",
        ops: &[Op::Unlink],
        args: &[R::ParentDir, R::Entry],
    },
    Hook {
        kprobe: "security_path_rmdir",
        lsm: "path_rmdir",
        ops: &[Op::Rmdir],
        args: &[R::ParentDir, R::Entry],
    },
    Hook {
        kprobe: "security_path_mkdir",
        lsm: "path_mkdir",
        ops: &[Op::Mkdir],
        args: &[R::ParentDir, R::Entry, R::Other],
    },
    Hook {
        kprobe: "security_path_symlink",
        lsm: "path_symlink",
        ops: &[Op::Symlink],
        args: &[R::ParentDir, R::Entry, R::Other],
    },
    Hook {
        kprobe: "security_path_link",
        lsm: "path_link",
        ops: &[Op::Link],
        args: &[R::Entry, R::ParentDir, R::Entry],
    },
    Hook {
        kprobe: "security_path_rename",
        lsm: "path_rename",
        ops: &[Op::Rename],
        args: &[R::ParentDir, R::Entry, R::ParentDir, R::Entry, R::Other],
    },
    Hook {
        kprobe: "security_path_chmod",
        lsm: "path_chmod",
        ops: &[Op::Chmod],
        args: &[R::Path, R::Other],
    },
    Hook {
        kprobe: "security_path_chown",
        lsm: "path_chown",
        ops: &[Op::Chown],
        args: &[R::Path, R::Other, R::Other],
    },
    Hook {
        kprobe: "security_bprm_check",
        lsm: "bprm_check_security",
        ops: &[Op::Exec],
        args: &[R::Binprm],
    },
    Hook {
        kprobe: "security_bprm_creds_for_exec",
        lsm: "bprm_creds_for_exec",
        ops: &[Op::Exec],
        args: &[R::Binprm],
    },
    Hook {
        kprobe: "security_socket_connect",
        lsm: "socket_connect",
        ops: &[Op::Connect],
        args: &[R::Other, R::Sockaddr, R::Other],
    },
];

const SPEC_KEYS: &[&str] = &[
    "kprobes",
    "lsmhooks",
    "podSelector",
    "containerSelector",
    "options",
    "hostSelector",
    "nodeSelector",
    "fentries",
    "tracepoints",
    "uprobes",
    "usdts",
    "loader",
    "lists",
    "enforcers",
    "selectorsMacros",
];
const KPROBE_KEYS: &[&str] = &[
    "call",
    "syscall",
    "return",
    "returnArg",
    "message",
    "args",
    "selectors",
    "tags",
    "data",
    "returnArgAction",
    "ignore",
];
const LSM_KEYS: &[&str] = &["hook", "message", "args", "selectors", "tags"];
const ARG_KEYS: &[&str] = &[
    "index",
    "type",
    "label",
    "resolve",
    "sizeArgIndex",
    "returnCopy",
    "maxData",
    "source",
    "btfType",
    "btfTypeModule",
];
const SELECTOR_KEYS: &[&str] = &[
    "label",
    "matchArgs",
    "matchBinaries",
    "matchActions",
    "matchPIDs",
    "matchData",
    "matchReturnArgs",
    "matchReturnActions",
    "matchParentBinaries",
    "matchNamespaces",
    "matchNamespaceChanges",
    "matchCapabilities",
    "matchCapabilityChanges",
    "matchWorkloads",
    "macros",
];
const ACTION_KEYS: &[&str] = &[
    "action",
    "argError",
    "argSig",
    "argUrl",
    "argFqdn",
    "argSock",
    "argFd",
    "argName",
    "argIndex",
    "argValue",
    "argRegs",
    "argNewSymbol",
    "argNewAddr",
    "argNewOffset",
    "rateLimit",
    "rateLimitScope",
    "kernelStackTrace",
    "userStackTrace",
    "imaHash",
];

/// A translated rule with where it came from, for the ordering checks.
struct Emitted {
    rule: Rule,
    hook: usize,
    selector: usize,
    /// For exception (`Not*`) allow rules: the operator node that caused it.
    exception_of: Option<Pos>,
    /// The hook's `call`/`hook` node.
    hook_pos: Pos,
    /// The selector (the hook's position when it has none).
    selector_pos: Pos,
}

/// Translates one Tetragon document; `None` (with errors in `sink`) if anything cannot be.
pub(crate) fn import_node(doc: &Node, sink: &mut Sink) -> Option<Policy> {
    let before = sink.error_count();
    let top = Fields::new(
        doc,
        &["apiVersion", "kind", "metadata", "spec"],
        sink,
        "the TracingPolicy",
    )?;
    if let Some(v) = top
        .require("apiVersion", sink, "the TracingPolicy")
        .and_then(|v| v.str(sink, "apiVersion").map(|s| (v, s)))
    {
        if v.1 != API_VERSION {
            sink.error(
                v.0.pos,
                format!(
                    "unsupported Tetragon apiVersion \"{}\" (expected \"{API_VERSION}\")",
                    v.1
                ),
            );
        }
    }
    let kinds = ["TracingPolicy", "TracingPolicyNamespaced"];
    let namespaced = match top
        .require("kind", sink, "the TracingPolicy")
        .and_then(|k| k.str(sink, "kind").map(|s| (k, s)))
    {
        Some((_, "TracingPolicyNamespaced")) => true,
        Some((_, "TracingPolicy")) => false,
        Some((k, s)) => {
            sink.error(
                k.pos,
                format!("unsupported kind \"{s}\" ({})", expected_one_of(s, &kinds)),
            );
            false
        }
        None => false,
    };
    let mut selector = Selector::default();
    let name = top
        .require("metadata", sink, "the TracingPolicy")
        .and_then(|m| metadata(m, namespaced, &mut selector, sink));
    let spec_node = top.require("spec", sink, "the TracingPolicy")?;
    let spec = Fields::new(spec_node, SPEC_KEYS, sink, "spec")?;
    untranslatable_spec_keys(&spec, sink);
    let mode = spec
        .get("options")
        .map_or(Mode::Enforce, |o| options(o, sink));
    if let Some(p) = spec.get("podSelector") {
        pod_selector(p, &mut selector, sink);
    }
    if let Some(c) = spec.get("containerSelector") {
        container_selector(c, &mut selector, sink);
    }

    let mut emitted = Vec::new();
    let mut hook_index = 0;
    for (key, lsm) in [("kprobes", false), ("lsmhooks", true)] {
        let Some(list) = spec
            .get(key)
            .and_then(|l| l.seq(sink, &format!("spec.{key}")))
        else {
            continue;
        };
        for h in list {
            hook(h, lsm, hook_index, &mut emitted, sink);
            hook_index += 1;
        }
    }
    if hook_index == 0 {
        sink.error(
            spec_node.pos,
            "no kprobes or lsmhooks: nothing to translate",
        );
    }
    check_order(&emitted, sink);
    let name = name?;
    let mut rules: Vec<Rule> = Vec::new();
    for e in emitted {
        let mut rule = e.rule;
        // Hooks may repeat; keep rule names unique.
        let base = rule.name.clone();
        let mut n = 2;
        while rules.iter().any(|r| r.name == rule.name) {
            rule.name = format!("{base}-{n}");
            n += 1;
        }
        rules.push(rule);
    }
    if rules.is_empty() && sink.error_count() == before {
        sink.error(
            spec_node.pos,
            "no selector of this policy can ever match; nothing to enforce",
        );
    }
    (sink.error_count() == before).then(|| Policy {
        description: format!(
            "Imported from Tetragon {} \"{name}\".",
            if namespaced {
                "TracingPolicyNamespaced"
            } else {
                "TracingPolicy"
            }
        ),
        name,
        mode,
        default_action: None,
        selector,
        rules,
    })
}

fn metadata(
    node: &Node,
    namespaced: bool,
    selector: &mut Selector,
    sink: &mut Sink,
) -> Option<String> {
    let f = Fields::new(
        node,
        &["name", "namespace", "labels", "annotations"],
        sink,
        "metadata",
    )?;
    for key in ["labels", "annotations"] {
        // Kubernetes object metadata: no effect on what the policy does.
        if let Some(m) = f
            .get(key)
            .and_then(|m| m.map(sink, &format!("metadata.{key}")))
        {
            for (k, v) in m {
                k.str(sink, "label key");
                v.str(sink, "label value");
            }
        }
    }
    match (f.get("namespace"), namespaced) {
        (Some(ns), true) => {
            if let Some(s) = ns.str(sink, "metadata.namespace") {
                selector.namespaces.push(s.to_owned());
            }
        }
        (Some(ns), false) => sink.error(
            ns.pos,
            "metadata.namespace on a cluster-wide TracingPolicy (use TracingPolicyNamespaced)",
        ),
        (None, true) => {
            sink.warning(node.pos, "TracingPolicyNamespaced without metadata.namespace: applied to namespace \"default\", as kubectl would");
            selector.namespaces.push("default".into());
        }
        (None, false) => {}
    }
    parse::name(f.require("name", sink, "metadata")?, sink, "metadata.name")
}

fn untranslatable_spec_keys(spec: &Fields<'_>, sink: &mut Sink) {
    let reasons: &[(&str, &str)] = &[
        ("fentries", "fentry hooks are observe-only in Tetragon; use kprobes on security_* functions or lsmhooks"),
        ("tracepoints", "tracepoints cannot deny; palisade enforces at security hooks (use a kprobe on the matching security_* function)"),
        ("uprobes", "user-space probes have no palisade equivalent"),
        ("usdts", "USDT probes have no palisade equivalent"),
        ("loader", "process_loader events come from palisade's sensors, not from policies"),
        ("lists", "call lists are not supported; name each security_* function"),
        ("enforcers", "syscall enforcers are not needed: palisade denies at the security hook itself"),
        ("selectorsMacros", "selector macros are not supported; write the selectors out"),
        ("nodeSelector", "palisade applies policies on every node it runs on; select nodes where the agent is deployed"),
    ];
    for (key, why) in reasons {
        if let Some(k) = spec.key(key) {
            sink.error(k.pos, format!("spec.{key} cannot be translated: {why}"));
        }
    }
    if let Some(h) = spec.get("hostSelector") {
        if !h.is_null() {
            sink.error(h.pos, "spec.hostSelector cannot be translated: palisade policies cover workloads, not host processes (remove it)");
        }
    }
}

fn options(node: &Node, sink: &mut Sink) -> Mode {
    let mut mode = Mode::Enforce;
    let Some(list) = node.seq(sink, "spec.options") else {
        return mode;
    };
    for o in list {
        let Some(f) = Fields::new(o, &["name", "value"], sink, "an option") else {
            continue;
        };
        let Some(name) = f
            .require("name", sink, "option")
            .and_then(|n| n.str(sink, "option name"))
        else {
            continue;
        };
        let value = f
            .get("value")
            .and_then(|v| scalar_text(v, sink, "option value"));
        match name {
            "policy-mode" => match value.as_deref() {
                Some("enforce") => mode = Mode::Enforce,
                Some("monitor") => mode = Mode::Audit,
                _ => sink.error(
                    f.get("value").map_or(o.pos, |v| v.pos),
                    "policy-mode: expected \"enforce\" or \"monitor\"",
                ),
            },
            // Attachment details of Tetragon's own programs; palisade picks its mechanism itself.
            "disable-kprobe-multi" | "disable-uprobe-multi" | "override-method" => {}
            other => {
                let known = [
                    "policy-mode",
                    "disable-kprobe-multi",
                    "disable-uprobe-multi",
                    "override-method",
                ];
                sink.error(
                    f.get("name").map_or(o.pos, |n| n.pos),
                    format!(
                        "unknown option \"{other}\" ({})",
                        expected_one_of(other, &known)
                    ),
                );
            }
        }
    }
    mode
}

fn pod_selector(node: &Node, selector: &mut Selector, sink: &mut Sink) {
    let Some(f) = Fields::new(
        node,
        &["matchLabels", "matchExpressions"],
        sink,
        "spec.podSelector",
    ) else {
        return;
    };
    if let Some(k) = f.key("matchExpressions") {
        sink.error(k.pos, "podSelector.matchExpressions cannot be translated: palisade selects pods by label equality (use matchLabels)");
    }
    if let Some(m) = f
        .get("matchLabels")
        .and_then(|m| m.map(sink, "podSelector.matchLabels"))
    {
        for (k, v) in m {
            if let (Some(k), Some(v)) = (
                k.str(sink, "label key"),
                scalar_text(v, sink, "label value"),
            ) {
                selector.pod_labels.push((k.to_owned(), v));
            }
        }
    }
}

fn container_selector(node: &Node, selector: &mut Selector, sink: &mut Sink) {
    let Some(f) = Fields::new(
        node,
        &["matchExpressions", "matchLabels"],
        sink,
        "spec.containerSelector",
    ) else {
        return;
    };
    if let Some(k) = f.key("matchLabels") {
        sink.error(k.pos, "containerSelector.matchLabels cannot be translated: select containers by name with matchExpressions (key: name, operator: In)");
    }
    let Some(list) = f
        .get("matchExpressions")
        .and_then(|l| l.seq(sink, "containerSelector.matchExpressions"))
    else {
        return;
    };
    for e in list {
        let Some(ef) = Fields::new(
            e,
            &["key", "operator", "values"],
            sink,
            "a match expression",
        ) else {
            continue;
        };
        let key = ef
            .require("key", sink, "match expression")
            .and_then(|k| k.str(sink, "key").map(|s| (k, s)));
        let op = ef
            .require("operator", sink, "match expression")
            .and_then(|k| k.str(sink, "operator").map(|s| (k, s)));
        match (key, op) {
            (Some((_, "name")), Some((_, "In"))) => {
                if let Some(v) = ef.require("values", sink, "match expression") {
                    selector.containers.extend(
                        v.str_list(sink, "values")
                            .into_iter()
                            .map(|(_, s)| s.to_owned()),
                    );
                }
            }
            (Some((k, other)), Some((_, "In"))) if other != "name" => {
                sink.error(k.pos, format!("containerSelector key \"{other}\" cannot be translated: palisade selects containers by name"));
            }
            (Some(_), Some((o, other))) => {
                sink.error(o.pos, format!("containerSelector operator \"{other}\" cannot be translated: only In is supported"));
            }
            _ => {}
        }
    }
}

/// A declared `args[]` entry.
struct Arg {
    index: usize,
    role: Role,
}

fn hook(node: &Node, lsm: bool, hook_index: usize, out: &mut Vec<Emitted>, sink: &mut Sink) {
    let what = if lsm { "an lsmhook" } else { "a kprobe" };
    let Some(f) = Fields::new(node, if lsm { LSM_KEYS } else { KPROBE_KEYS }, sink, what) else {
        return;
    };
    let key = if lsm { "hook" } else { "call" };
    let Some(call_node) = f.require(key, sink, what) else {
        return;
    };
    let Some(call) = call_node.str(sink, key) else {
        return;
    };
    let found = HOOKS
        .iter()
        .find(|h| if lsm { h.lsm == call } else { h.kprobe == call });
    let Some(hk) = found else {
        let names: Vec<&str> = HOOKS
            .iter()
            .map(|h| if lsm { h.lsm } else { h.kprobe })
            .collect();
        let why = if !lsm && !call.starts_with("security_") {
            "palisade enforces at security hooks only; hook the security_* function that guards this operation".to_owned()
        } else {
            expected_one_of(call, &names)
        };
        sink.error(
            call_node.pos,
            format!("{key} \"{call}\" cannot be translated ({why})"),
        );
        return;
    };
    if !lsm {
        if let Some(s) = f.get("syscall") {
            if s.bool(sink, "syscall") == Some(true) {
                sink.error(s.pos, format!("syscall: true does not fit {call}, a kernel function (write syscall: false)"));
            }
        }
        for key in ["data", "returnArgAction", "ignore"] {
            if let Some(k) = f.key(key) {
                sink.error(
                    k.pos,
                    format!("{key} cannot be translated: it has no palisade equivalent"),
                );
            }
        }
        if let Some(r) = f.get("returnArg") {
            // Only decorates Tetragon's event with the return value; checked for shape only.
            Fields::new(r, &["index", "type"], sink, "returnArg");
        }
    }
    if let Some(m) = f.get("message") {
        m.str(sink, "message");
    }
    let mut args: Vec<Arg> = Vec::new();
    if let Some(list) = f.get("args").and_then(|a| a.seq(sink, "args")) {
        for a in list {
            if let Some(arg) = declared_arg(a, hk, call, sink) {
                args.push(arg);
            }
        }
    }
    let short = hk.lsm.replace('_', "-");
    let Some(selectors) = f.get("selectors") else {
        // No selectors: Tetragon posts every call.
        out.push(Emitted {
            rule: plain_rule(short, hk.ops.to_vec(), Action::Audit),
            hook: hook_index,
            selector: 0,
            exception_of: None,
            hook_pos: call_node.pos,
            selector_pos: call_node.pos,
        });
        return;
    };
    let Some(list) = selectors.seq(sink, "selectors") else {
        return;
    };
    for (i, s) in list.iter().enumerate() {
        selector(
            s,
            hk,
            &args,
            &format!("{short}-s{i}"),
            (hook_index, i, call_node.pos),
            out,
            sink,
        );
    }
}

fn plain_rule(name: String, operations: Vec<Operation>, action: Action) -> Rule {
    Rule {
        name,
        operations,
        paths: PathMatch::default(),
        binaries: PathMatch::default(),
        uids: Vec::new(),
        ns_pids: None,
        destinations: Vec::new(),
        action,
    }
}

fn declared_arg(node: &Node, hk: &Hook, call: &str, sink: &mut Sink) -> Option<Arg> {
    let f = Fields::new(node, ARG_KEYS, sink, "an args entry")?;
    for key in [
        "resolve",
        "sizeArgIndex",
        "returnCopy",
        "maxData",
        "source",
        "btfType",
        "btfTypeModule",
    ] {
        if let Some(k) = f.key(key) {
            sink.error(
                k.pos,
                format!(
                    "args.{key} cannot be translated: palisade reads the hook's objects itself"
                ),
            );
        }
    }
    if let Some(l) = f.get("label") {
        l.str(sink, "label");
    }
    let idx_node = f.require("index", sink, "args entry")?;
    let index = usize::try_from(idx_node.int(sink, "index")?)
        .ok()
        .filter(|i| *i < hk.args.len());
    let Some(index) = index else {
        sink.error(
            idx_node.pos,
            format!(
                "{call} has {} arguments (index 0..={})",
                hk.args.len(),
                hk.args.len() - 1
            ),
        );
        return None;
    };
    let role = hk.args[index];
    if let Some(t) = f.get("type") {
        let ty = t.str(sink, "type")?;
        if role != Role::Other && ty != "auto" && !role.types().contains(&ty) {
            sink.error(t.pos, format!("{call} argument {index} is {}; type \"{ty}\" does not fit (expected one of: {})", role_name(role), role.types().join(", ")));
            return None;
        }
    }
    Some(Arg { index, role })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Path => "the file's path",
        Role::ParentDir => "the parent directory",
        Role::Entry => "the dentry",
        Role::Binprm => "the executed file",
        Role::Mask => "the access mask (MAY_*)",
        Role::Prot => "the protection (PROT_*)",
        Role::MapFlags => "the mapping flags (MAP_*)",
        Role::Sockaddr => "the destination address",
        Role::Other => "not matchable by palisade",
    }
}

/// What one selector's filters add up to.
#[derive(Default)]
struct Filters {
    paths: PathMatch,
    /// Position of the positive path filter (only one is expressible).
    path_filter: Option<Pos>,
    except_paths: PathMatch,
    except_paths_pos: Option<Pos>,
    ops: Option<Vec<Operation>>,
    binaries: PathMatch,
    except_binaries: PathMatch,
    except_binaries_pos: Option<Pos>,
    addrs: Vec<(std::net::IpAddr, u8)>,
    except_addrs: Vec<(std::net::IpAddr, u8)>,
    except_addrs_pos: Option<Pos>,
    ports: Vec<u16>,
    /// A positive filter lost every value (all dead): the selector can never match.
    never: bool,
}

fn selector(
    node: &Node,
    hk: &Hook,
    args: &[Arg],
    name: &str,
    (hook_index, sel_index, hook_pos): (usize, usize, Pos),
    out: &mut Vec<Emitted>,
    sink: &mut Sink,
) {
    let before = sink.error_count();
    let Some(f) = Fields::new(node, SELECTOR_KEYS, sink, "a selector") else {
        return;
    };
    let untranslatable: &[(&str, &str)] = &[
        ("matchData", "matchData has no palisade equivalent"),
        ("matchReturnArgs", "palisade decides before the operation, so there is no return value to match"),
        ("matchReturnActions", "palisade decides before the operation, so there is no return value to act on"),
        ("matchParentBinaries", "palisade matches the acting binary only"),
        ("matchNamespaces", "palisade scopes policies by container, not by namespace inode"),
        ("matchNamespaceChanges", "namespace changes have no palisade equivalent"),
        ("matchCapabilities", "palisade rules do not match capabilities"),
        ("matchCapabilityChanges", "palisade rules do not match capability changes"),
        ("matchWorkloads", "per-selector workload scoping is not supported; use spec.podSelector/containerSelector"),
        ("macros", "selector macros are not supported; write the selector out"),
    ];
    for (key, why) in untranslatable {
        if let Some(k) = f.key(key) {
            sink.error(k.pos, format!("{key} cannot be translated: {why}"));
        }
    }
    if let Some(l) = f.get("label") {
        l.str(sink, "label");
    }
    let mut filt = Filters::default();
    if let Some(list) = f.get("matchArgs").and_then(|m| m.seq(sink, "matchArgs")) {
        for m in list {
            match_arg(m, hk, args, &mut filt, sink);
        }
    }
    if let Some(list) = f
        .get("matchBinaries")
        .and_then(|m| m.seq(sink, "matchBinaries"))
    {
        if list.len() > 1 {
            sink.error(
                list[1].pos,
                "Tetragon allows one matchBinaries entry per selector",
            );
        }
        for m in list {
            match_binaries(m, &mut filt, sink);
        }
    }
    let ns_pids = match f.get("matchPIDs").and_then(|m| m.seq(sink, "matchPIDs")) {
        Some(list) if list.len() > 1 => {
            sink.error(
                list[1].pos,
                "palisade translates one matchPIDs entry per selector (write another selector)",
            );
            None
        }
        Some(list) => list.first().and_then(|m| match_pids(m, hk, sink)),
        None => None,
    };
    let action = match f.get("matchActions") {
        None => Some(Action::Audit),
        Some(a) => actions(a, sink),
    };
    if sink.error_count() != before {
        return;
    }
    let (Some(action), false) = (action, filt.never) else {
        sink.warning(node.pos, "this selector can never match (every value of one of its filters was dropped); no rule emitted");
        return;
    };
    let ops: Vec<Operation> = match &filt.ops {
        Some(o) => hk.ops.iter().copied().filter(|h| o.contains(h)).collect(),
        None => hk.ops.to_vec(),
    };
    if ops.is_empty() {
        sink.warning(node.pos, "the argument filters of this selector select no operation of this hook; no rule emitted");
        return;
    }
    let destinations = |addrs: &[(std::net::IpAddr, u8)], ports: &[u16]| -> Vec<Destination> {
        let any: Vec<(std::net::IpAddr, u8)> = vec![
            (std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
            (std::net::Ipv6Addr::UNSPECIFIED.into(), 0),
        ];
        let addrs = if addrs.is_empty() && !ports.is_empty() {
            &any[..]
        } else {
            addrs
        };
        let ports: Vec<Option<u16>> = if ports.is_empty() {
            vec![None]
        } else {
            ports.iter().map(|p| Some(*p)).collect()
        };
        addrs
            .iter()
            .flat_map(|(a, l)| {
                ports.iter().map(move |p| Destination {
                    addr: *a,
                    prefix_len: *l,
                    port: *p,
                })
            })
            .collect()
    };
    let base = Rule {
        name: name.to_owned(),
        operations: ops,
        paths: filt.paths.clone(),
        binaries: filt.binaries.clone(),
        uids: Vec::new(),
        ns_pids,
        destinations: destinations(&filt.addrs, &filt.ports),
        action,
    };
    let emit = |rule: Rule, exception_of: Option<Pos>, out: &mut Vec<Emitted>| {
        out.push(Emitted {
            rule,
            hook: hook_index,
            selector: sel_index,
            exception_of,
            hook_pos,
            selector_pos: node.pos,
        });
    };
    // Exceptions first: an allow rule for what the Not* filters exclude, limited by the
    // selector's other positive filters.
    if let Some(pos) = filt.except_paths_pos {
        let r = Rule {
            name: format!("{name}-except-paths"),
            paths: filt.except_paths.clone(),
            action: Action::Allow,
            ..base.clone()
        };
        emit(r, Some(pos), out);
    }
    if let Some(pos) = filt.except_binaries_pos {
        let r = Rule {
            name: format!("{name}-except-binaries"),
            binaries: filt.except_binaries.clone(),
            action: Action::Allow,
            ..base.clone()
        };
        emit(r, Some(pos), out);
    }
    if let Some(pos) = filt.except_addrs_pos {
        let r = Rule {
            name: format!("{name}-except-addresses"),
            destinations: destinations(&filt.except_addrs, &filt.ports),
            action: Action::Allow,
            ..base.clone()
        };
        emit(r, Some(pos), out);
    }
    emit(base, None, out);
}

/// A scalar as text (Tetragon writes numbers both quoted and plain).
fn scalar_text(node: &Node, sink: &mut Sink, what: &str) -> Option<String> {
    match node.scalar() {
        Some(Scalar::Str(s)) => Some(s.to_owned()),
        Some(Scalar::Int(i)) => Some(i.to_string()),
        Some(Scalar::Bool(b)) => Some(b.to_string()),
        _ => {
            sink.error(
                node.pos,
                format!(
                    "{what}: expected a string or a number, found {}",
                    node.kind()
                ),
            );
            None
        }
    }
}

fn values<'a>(node: &'a Node, sink: &mut Sink) -> Vec<(&'a Node, String)> {
    let Some(items) = node.seq(sink, "values") else {
        return Vec::new();
    };
    if items.is_empty() {
        sink.error(node.pos, "values is empty");
    }
    items
        .iter()
        .filter_map(|n| scalar_text(n, sink, "values").map(|s| (n, s)))
        .collect()
}

fn number(node: &Node, text: &str, sink: &mut Sink) -> Option<u64> {
    let parsed = match text.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => text.parse::<u64>().ok(),
    };
    if parsed.is_none() {
        sink.error(node.pos, format!("\"{text}\" is not a number"));
    }
    parsed
}

const PATH_OPS: [&str; 6] = [
    "Equal",
    "Prefix",
    "Postfix",
    "NotEqual",
    "NotPrefix",
    "NotPostfix",
];

fn match_arg(node: &Node, hk: &Hook, args: &[Arg], filt: &mut Filters, sink: &mut Sink) {
    let Some(f) = Fields::new(
        node,
        &["index", "args", "operator", "values"],
        sink,
        "a matchArgs entry",
    ) else {
        return;
    };
    // `args: [N]` names the N-th entry of the hook's args list and takes precedence over index.
    let arg = if let Some(a) = f.get("args") {
        let Some(list) = a.seq(sink, "matchArgs.args") else {
            return;
        };
        if list.len() != 1 {
            sink.error(a.pos, "matchArgs.args: give exactly one argument position");
            return;
        }
        let Some(p) = list[0].int(sink, "matchArgs.args") else {
            return;
        };
        match usize::try_from(p).ok().and_then(|p| args.get(p)) {
            Some(arg) => arg,
            None => {
                sink.error(
                    list[0].pos,
                    format!(
                        "the hook declares {} args; there is no args entry {p}",
                        args.len()
                    ),
                );
                return;
            }
        }
    } else {
        let Some(i) = f.require("index", sink, "matchArgs entry") else {
            return;
        };
        let Some(idx) = i.int(sink, "index") else {
            return;
        };
        match args
            .iter()
            .find(|a| i128::try_from(a.index).ok() == Some(idx))
        {
            Some(arg) => arg,
            None => {
                sink.error(i.pos, format!("matchArgs index {idx} is not declared in the hook's args (Tetragon only matches captured arguments)"));
                return;
            }
        }
    };
    let Some(op_node) = f.require("operator", sink, "matchArgs entry") else {
        return;
    };
    let Some(op) = op_node.str(sink, "operator") else {
        return;
    };
    let Some(vals_node) = f.require("values", sink, "matchArgs entry") else {
        return;
    };
    let vals = values(vals_node, sink);
    let unsupported = |sink: &mut Sink, expected: &[&str], why: &str| {
        sink.error(
            op_node.pos,
            format!(
                "operator \"{op}\" on {} cannot be translated{why} (supported: {})",
                role_name(arg.role),
                expected.join(", ")
            ),
        );
    };
    match arg.role {
        Role::Path | Role::Entry | Role::Binprm | Role::ParentDir => {
            let allowed: &[&str] = if arg.role == Role::ParentDir {
                &["Prefix"]
            } else {
                &PATH_OPS
            };
            if !allowed.contains(&op) {
                let why = if arg.role == Role::ParentDir {
                    ": palisade matches the full path of the file, and only a Prefix on its directory keeps its meaning (match the dentry argument instead)"
                } else {
                    ""
                };
                unsupported(sink, allowed, why);
                return;
            }
            path_values(op, op_node.pos, &vals, filt, sink);
        }
        Role::Mask | Role::Prot => {
            if !["Equal", "Mask"].contains(&op) {
                unsupported(sink, &["Equal", "Mask"], "");
                return;
            }
            let mut ops: Vec<Operation> = Vec::new();
            for (n, v) in &vals {
                let Some(bits) = number(n, v, sink) else {
                    continue;
                };
                match bits_to_ops(arg.role, bits, op == "Equal") {
                    Ok(o) => ops.extend(o),
                    Err(e) => sink.error(n.pos, e),
                }
            }
            let narrowed = match filt.ops.take() {
                Some(prev) => prev.into_iter().filter(|o| ops.contains(o)).collect(),
                None => ops,
            };
            filt.ops = Some(narrowed);
        }
        Role::MapFlags => {
            // MAP_SHARED (1) as a Mask only narrows to mappings that write through to the file,
            // which the read/write operations already cover.
            if op != "Mask" || vals.iter().any(|(_, v)| v != "1") {
                sink.error(
                    op_node.pos,
                    "only \"Mask\" with value 1 (MAP_SHARED) is translatable on the mmap flags",
                );
            }
        }
        Role::Sockaddr => sockaddr(op, op_node, &vals, filt, sink),
        Role::Other => {
            sink.error(
                op_node.pos,
                format!(
                    "argument {} of {} cannot be matched by palisade",
                    arg.index, hk.kprobe
                ),
            );
        }
    }
}

/// MAY_* (file_permission) or PROT_* (mmap_file) bits -> operations.
fn bits_to_ops(role: Role, bits: u64, equal: bool) -> Result<Vec<Operation>, String> {
    let table: &[(u64, Operation)] = match role {
        // MAY_WRITE 2, MAY_READ 4, MAY_APPEND 8.
        Role::Mask => &[(2, Op::Write), (4, Op::Read), (8, Op::Write)],
        // PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4.
        _ => &[(1, Op::Read), (2, Op::Write), (4, Op::MmapExec)],
    };
    let known: u64 = table.iter().map(|(b, _)| b).sum::<u64>();
    if bits == 0 || bits & !known != 0 {
        let what = if role == Role::Mask {
            "MAY_WRITE 2, MAY_READ 4, MAY_APPEND 8"
        } else {
            "PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4"
        };
        return Err(format!(
            "value {bits} has bits palisade cannot map to an operation ({what})"
        ));
    }
    if equal && role == Role::Prot && bits & 4 != 0 {
        // An executable mapping is mmap-exec whatever else it allows.
        return Ok(vec![Op::MmapExec]);
    }
    let mut ops: Vec<Operation> = table
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, o)| *o)
        .collect();
    ops.dedup();
    Ok(ops)
}

fn path_values(
    op: &str,
    op_pos: Pos,
    vals: &[(&Node, String)],
    filt: &mut Filters,
    sink: &mut Sink,
) {
    let (negative, kind) = match op {
        "Equal" => (false, "exact"),
        "Prefix" => (false, "prefix"),
        "Postfix" => (false, "suffix"),
        "NotEqual" => (true, "exact"),
        "NotPrefix" => (true, "prefix"),
        _ => (true, "suffix"),
    };
    if !negative {
        if let Some(first) = filt.path_filter {
            sink.error(
                op_pos,
                format!("a second path filter in one selector (first at line {}): Tetragon ANDs them, palisade path matchers are alternatives; split the selector", first.line),
            );
            return;
        }
        filt.path_filter = Some(op_pos);
    }
    let mut kept = 0;
    for (n, v) in vals {
        if kind != "suffix" && !v.starts_with('/') {
            // Tetragon compares against absolute paths, so this value can never match.
            sink.warning(n.pos, format!("{op} \"{v}\" is not an absolute path and never matches in Tetragon either; dropped"));
            continue;
        }
        if let Some(problem) = parse::path_problem(kind, v) {
            sink.error(n.pos, format!("\"{v}\" {problem}"));
            continue;
        }
        let target = if negative {
            &mut filt.except_paths
        } else {
            &mut filt.paths
        };
        let list = match kind {
            "exact" => &mut target.exact,
            "prefix" => &mut target.prefix,
            _ => &mut target.suffix,
        };
        list.push(v.clone());
        kept += 1;
    }
    if negative {
        filt.except_paths_pos.get_or_insert(op_pos);
    } else if kept == 0 {
        filt.never = true;
    }
}

/// A matchPIDs entry -> `nsPids`. Only namespace pids translate: host pids are reused and unknown
/// when a policy is written, and a rule cannot follow a process's descendants.
fn match_pids(node: &Node, hk: &Hook, sink: &mut Sink) -> Option<NsPids> {
    let f = Fields::new(
        node,
        &["operator", "values", "isNamespacePID", "followForks"],
        sink,
        "a matchPIDs entry",
    )?;
    let before = sink.error_count();
    match f.get("isNamespacePID") {
        Some(n) if n.bool(sink, "isNamespacePID") == Some(true) => {}
        Some(n) => sink.error(n.pos, "matchPIDs with host pids cannot be translated: host pids are reused and not known when the policy is written; with isNamespacePID: true the values are pids in the process's own pid namespace (1 = a container's init), which palisade matches"),
        None => sink.error(node.pos, "matchPIDs without isNamespacePID: true cannot be translated: host pids are reused and not known when the policy is written (isNamespacePID: true matches pids in the process's own pid namespace, 1 = a container's init)"),
    }
    if let Some(n) = f.get("followForks") {
        if n.bool(sink, "followForks") == Some(true) {
            sink.error(n.pos, "followForks cannot be translated: palisade matches the acting process's own pid, not its ancestors' (drop followForks, or scope with matchBinaries)");
        }
    }
    if hk.ops.contains(&Op::Connect) {
        sink.error(node.pos, "matchPIDs on a connect hook cannot be translated: palisade's cgroup socket programs cannot see the process's pid namespace");
    }
    let op_node = f.require("operator", sink, "matchPIDs entry")?;
    let negate = match op_node.str(sink, "operator")? {
        "In" => false,
        "NotIn" => true,
        other => {
            sink.error(
                op_node.pos,
                format!("matchPIDs operator \"{other}\": expected In or NotIn"),
            );
            return None;
        }
    };
    let list = f.require("values", sink, "matchPIDs entry")?;
    let items = list.seq(sink, "values")?;
    if items.is_empty() || items.len() > NsPids::MAX {
        sink.error(
            list.pos,
            format!("matchPIDs values: Tetragon takes 1 to {} pids", NsPids::MAX),
        );
        return None;
    }
    let mut values = Vec::new();
    for n in items {
        match n.int(sink, "matchPIDs value").map(u32::try_from) {
            Some(Ok(p)) if p > 0 => values.push(p),
            Some(_) => sink.error(
                n.pos,
                "matchPIDs value: expected a pid (a positive integer)",
            ),
            None => {}
        }
    }
    (sink.error_count() == before).then_some(NsPids { negate, values })
}

fn match_binaries(node: &Node, filt: &mut Filters, sink: &mut Sink) {
    let Some(f) = Fields::new(
        node,
        &["operator", "values", "followChildren"],
        sink,
        "a matchBinaries entry",
    ) else {
        return;
    };
    if let Some(fc) = f.get("followChildren") {
        if fc.bool(sink, "followChildren") == Some(true) {
            sink.error(fc.pos, "followChildren cannot be translated: palisade matches the binary of the acting process only");
        }
    }
    let ops = [
        "In",
        "NotIn",
        "Prefix",
        "NotPrefix",
        "Postfix",
        "NotPostfix",
    ];
    let Some(op_node) = f.require("operator", sink, "matchBinaries entry") else {
        return;
    };
    let Some(op) = op_node.str(sink, "operator") else {
        return;
    };
    if !ops.contains(&op) {
        sink.error(
            op_node.pos,
            format!(
                "unknown matchBinaries operator \"{op}\" ({})",
                expected_one_of(op, &ops)
            ),
        );
        return;
    }
    let Some(vals_node) = f.require("values", sink, "matchBinaries entry") else {
        return;
    };
    let negative = op.starts_with("Not");
    let kind = match op.trim_start_matches("Not") {
        "In" => "exact",
        "Prefix" => "prefix",
        _ => "suffix",
    };
    let target = if negative {
        &mut filt.except_binaries
    } else {
        &mut filt.binaries
    };
    for (n, v) in values(vals_node, sink) {
        if let Some(problem) = parse::path_problem(kind, &v) {
            sink.error(n.pos, format!("binary \"{v}\" {problem}"));
            continue;
        }
        match kind {
            "exact" => target.exact.push(v),
            "prefix" => target.prefix.push(v),
            _ => target.suffix.push(v),
        }
    }
    if negative {
        filt.except_binaries_pos.get_or_insert(op_node.pos);
    }
}

fn sockaddr(
    op: &str,
    op_node: &Node,
    vals: &[(&Node, String)],
    filt: &mut Filters,
    sink: &mut Sink,
) {
    match op {
        "DAddr" | "NotDAddr" => {
            for (n, v) in vals {
                match parse::parse_destination(v) {
                    Ok(d) if d.port.is_none() => {
                        let list = if op == "DAddr" {
                            &mut filt.addrs
                        } else {
                            &mut filt.except_addrs
                        };
                        list.push((d.addr, d.prefix_len));
                    }
                    Ok(_) => sink.error(
                        n.pos,
                        format!(
                            "\"{v}\": an address or CIDR without port (match ports with DPort)"
                        ),
                    ),
                    Err(e) => sink.error(n.pos, format!("\"{v}\": {e}")),
                }
            }
            if op == "NotDAddr" {
                filt.except_addrs_pos.get_or_insert(op_node.pos);
            }
        }
        "DPort" => {
            for (n, v) in vals {
                match v.parse::<u16>() {
                    Ok(p) if p > 0 => filt.ports.push(p),
                    _ => sink.error(
                        n.pos,
                        format!("port \"{v}\" cannot be translated (single ports 1..=65535 only)"),
                    ),
                }
            }
        }
        _ => {
            sink.error(op_node.pos, format!("operator \"{op}\" on the destination address cannot be translated (supported: DAddr, NotDAddr, DPort)"));
        }
    }
}

fn actions(node: &Node, sink: &mut Sink) -> Option<Action> {
    let list = node.seq(sink, "matchActions")?;
    let (mut kill, mut deny) = (false, false);
    let before = sink.error_count();
    for a in list {
        let Some(f) = Fields::new(a, ACTION_KEYS, sink, "a matchActions entry") else {
            continue;
        };
        let Some(name_node) = f.require("action", sink, "matchActions entry") else {
            continue;
        };
        let Some(name) = name_node.str(sink, "action") else {
            continue;
        };
        let mut allowed_params: &[&str] = &[];
        match name {
            "Post" => {}
            "Sigkill" => kill = true,
            "Override" => {
                deny = true;
                allowed_params = &["argError"];
                match f.get("argError").map(|e| (e, e.int(sink, "argError"))) {
                    Some((_, Some(-1))) => {}
                    Some((e, Some(v))) => sink.error(e.pos, format!("argError {v} cannot be translated: palisade fails denied operations with EPERM (-1)")),
                    Some((_, None)) => {}
                    None => sink.error(a.pos, "Override needs argError (-1 = EPERM, what palisade returns)"),
                }
            }
            "Signal" => {
                allowed_params = &["argSig"];
                match f.get("argSig").map(|s| (s, s.int(sink, "argSig"))) {
                    Some((_, Some(9))) => kill = true,
                    Some((s, Some(v))) => sink.error(
                        s.pos,
                        format!("signal {v} cannot be translated: palisade can only SIGKILL (9)"),
                    ),
                    Some((_, None)) => {}
                    None => sink.error(a.pos, "Signal needs argSig"),
                }
            }
            "NoPost" => sink.error(
                name_node.pos,
                "NoPost cannot be translated: palisade always reports its decisions",
            ),
            other => {
                let known = [
                    "Post",
                    "Sigkill",
                    "Override",
                    "Signal",
                    "NoPost",
                    "GetUrl",
                    "DnsLookup",
                    "TrackSock",
                    "UntrackSock",
                    "NotifyEnforcer",
                    "CleanupEnforcerNotification",
                    "Set",
                    "FollowFD",
                    "UnfollowFD",
                    "CopyFD",
                ];
                if known.contains(&other) {
                    sink.error(name_node.pos, format!("action {other} cannot be translated (translatable: Post, Override, Sigkill, Signal with argSig 9)"));
                } else {
                    sink.error(
                        name_node.pos,
                        format!(
                            "unknown action \"{other}\" ({})",
                            expected_one_of(other, &known)
                        ),
                    );
                }
                continue;
            }
        }
        for key in ACTION_KEYS
            .iter()
            .filter(|k| **k != "action" && !allowed_params.contains(k))
        {
            if let Some(k) = f.key(key) {
                sink.error(k.pos, format!("{key} on {name} cannot be translated"));
            }
        }
    }
    if sink.error_count() != before {
        return None;
    }
    Some(match (kill, deny) {
        (true, _) => Action::DenyAndKill,
        (false, true) => Action::Deny,
        (false, false) => Action::Audit,
    })
}

fn strength(a: Action) -> u8 {
    match a {
        Action::Allow => 0,
        Action::Audit => 1,
        Action::Deny => 2,
        Action::DenyAndKill => 3,
    }
}

/// Rejects translations whose first-match order would differ from Tetragon's semantics.
fn check_order(rules: &[Emitted], sink: &mut Sink) {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let Some(op) = a
                .rule
                .operations
                .iter()
                .find(|o| b.rule.operations.contains(o))
            else {
                continue;
            };
            let same_selector = a.hook == b.hook && a.selector == b.selector;
            if let (Some(pos), false) = (a.exception_of, same_selector) {
                sink.error(
                    pos,
                    format!(
                        "this exception cannot be translated: it would become an allow rule for {}, and palisade's first-match rules would let it hide the later rule \"{}\" (line {}); move this selector after the others or drop the Not* filter",
                        op.as_str(), b.rule.name, b.selector_pos.line
                    ),
                );
                return;
            }
            if a.hook != b.hook
                && a.exception_of.is_none()
                && strength(a.rule.action) < strength(b.rule.action)
            {
                sink.error(
                    b.hook_pos,
                    format!(
                        "put this hook before the one at line {}: both cover {}, Tetragon runs both while palisade takes the first matching rule, so the stronger action ({}) must come first",
                        a.hook_pos.line, op.as_str(), b.rule.action.as_str()
                    ),
                );
                return;
            }
        }
    }
}
