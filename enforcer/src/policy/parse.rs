//! `palisade.dev/v1alpha1` `Policy` documents -> the validated model, every error located.
//!
//! Checking is exhaustive: each problem is recorded and checking goes on, so one run of
//! `palisade policy check` lists everything wrong in a file. A policy is returned only when its
//! document had no error at all.

use std::{net::IpAddr, path::Path};

use serde::Serialize;

use super::{
    demo::{self, Demo},
    error::{expected_one_of, Diagnostic, PolicyErrors, Pos, Sink},
    model::{Action, Destination, Mode, NsPids, Operation, PathMatch, Policy, Rule, Selector},
    tetragon,
    yaml::{self, Fields, Node, Scalar},
};

/// `apiVersion` of palisade policies.
pub const API_VERSION: &str = "palisade.dev/v1alpha1";
/// `kind` of palisade policies.
pub const KIND: &str = "Policy";
/// Longest policy or rule name (a DNS label, as Kubernetes names).
pub const MAX_NAME_LEN: usize = 63;
/// Longest path in a matcher: the kernel's PATH_MAX including the terminating NUL.
pub const MAX_PATH_LEN: usize = 4095;

/// Which format a document was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A palisade `Policy`.
    Palisade,
    /// A Tetragon `TracingPolicy` / `TracingPolicyNamespaced`, translated.
    Tetragon,
}

/// One document of a file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The policy.
    pub policy: Policy,
    /// Its `demo:` section (library policies have one).
    pub demo: Option<Demo>,
    /// Source format.
    pub origin: Origin,
    /// Where the document starts.
    pub pos: Pos,
}

/// Every document of a file plus the warnings found while checking it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Documents in file order.
    pub documents: Vec<Document>,
    /// Non-fatal findings (e.g. Tetragon values that can never match).
    pub warnings: Vec<Diagnostic>,
}

/// Parses a file holding exactly one policy (palisade or Tetragon format).
pub fn parse_policy_str(src: &str, file: &str) -> Result<Policy, PolicyErrors> {
    let mut docs = parse_documents_str(src, file)?.documents;
    match docs.len() {
        1 => Ok(docs.remove(0).policy),
        n => Err(PolicyErrors(vec![Diagnostic::error(
            file,
            docs[1].pos,
            format!("expected one policy in this file, found {n}; name the policy to use instead of the file"),
        )])),
    }
}

/// [`parse_policy_str`] on a file's contents; `path` is shown as the file name in errors.
pub fn parse_policy_file(path: &Path) -> Result<Policy, PolicyErrors> {
    let (src, file) = read(path)?;
    parse_policy_str(&src, &file)
}

/// Parses every document of a multi-document (`---`) file.
pub fn parse_policies_str(src: &str, file: &str) -> Result<Vec<Policy>, PolicyErrors> {
    Ok(parse_documents_str(src, file)?
        .documents
        .into_iter()
        .map(|d| d.policy)
        .collect())
}

/// Full result for one file: documents with demos and origin, and warnings. Each document is
/// dispatched on its `apiVersion`: `cilium.io/...` goes to the Tetragon importer.
pub fn parse_documents_str(src: &str, file: &str) -> Result<Parsed, PolicyErrors> {
    let mut sink = Sink::new(file);
    let nodes = yaml::load(src, &mut sink);
    if nodes.is_empty() && sink.error_count() == 0 {
        sink.error(Pos::START, "no policy document in this file");
    }
    let mut documents: Vec<Document> = Vec::new();
    for node in &nodes {
        let before = sink.error_count();
        let doc = if is_tetragon(node) {
            tetragon::import_node(node, &mut sink).map(|policy| Document {
                policy,
                demo: None,
                origin: Origin::Tetragon,
                pos: node.pos,
            })
        } else {
            policy_document(node, &mut sink).map(|(policy, demo)| Document {
                policy,
                demo,
                origin: Origin::Palisade,
                pos: node.pos,
            })
        };
        let Some(doc) = doc.filter(|_| sink.error_count() == before) else {
            continue;
        };
        if let Some(first) = documents.iter().find(|d| d.policy.name == doc.policy.name) {
            sink.error(
                doc.pos,
                format!(
                    "duplicate policy name \"{}\" (first at line {})",
                    doc.policy.name, first.pos.line
                ),
            );
            continue;
        }
        documents.push(doc);
    }
    let (errors, warnings) = sink.finish();
    if errors.is_empty() {
        Ok(Parsed {
            documents,
            warnings,
        })
    } else {
        Err(PolicyErrors(errors))
    }
}

/// Reads a policy file; the error is a located whole-file diagnostic.
pub(crate) fn read(path: &Path) -> Result<(String, String), PolicyErrors> {
    let file = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| PolicyErrors::file(&file, format!("cannot read: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(src) => Ok((src, file)),
        Err(e) => Err(PolicyErrors(vec![not_utf8(
            &file,
            e.as_bytes(),
            e.utf8_error(),
        )])),
    }
}

/// Points at the first byte that is not UTF-8, so a stray Latin-1 byte is easy to find.
fn not_utf8(file: &str, bytes: &[u8], e: std::str::Utf8Error) -> Diagnostic {
    let valid = &bytes[..e.valid_up_to()];
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let pos = Pos {
        line: 1 + valid.iter().filter(|&&b| b == b'\n').count(),
        // Columns count characters; everything before the bad byte on its line is valid UTF-8.
        col: 1 + String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count(),
    };
    let bad = bytes[e.valid_up_to()];
    Diagnostic::error(
        file,
        pos,
        format!("byte 0x{bad:02x} is not valid UTF-8: policy files must be UTF-8 text"),
    )
}

fn is_tetragon(doc: &Node) -> bool {
    let yaml::Value::Map(entries) = &doc.value else {
        return false;
    };
    entries.iter().any(|(k, v)| {
        k.scalar() == Some(Scalar::Str("apiVersion"))
            && matches!(v.scalar(), Some(Scalar::Str(s)) if s.starts_with(tetragon::API_GROUP))
    })
}

fn policy_document(doc: &Node, sink: &mut Sink) -> Option<(Policy, Option<Demo>)> {
    let top = Fields::new(
        doc,
        &["apiVersion", "kind", "metadata", "spec", "demo"],
        sink,
        "the policy",
    )?;
    if let Some(v) = top.require("apiVersion", sink, "the policy") {
        if let Some(s) = v.str(sink, "apiVersion") {
            if s != API_VERSION {
                sink.error(
                    v.pos,
                    format!("unsupported apiVersion \"{s}\" (expected \"{API_VERSION}\", or \"cilium.io/v1alpha1\" for a Tetragon TracingPolicy)"),
                );
            }
        }
    }
    if let Some(v) = top.require("kind", sink, "the policy") {
        if let Some(s) = v.str(sink, "kind") {
            if s != KIND {
                sink.error(
                    v.pos,
                    format!("unsupported kind \"{s}\" (expected \"{KIND}\")"),
                );
            }
        }
    }
    let (name, description) = match top.require("metadata", sink, "the policy") {
        Some(m) => metadata(m, sink),
        None => (None, String::new()),
    };
    let spec = top
        .require("spec", sink, "the policy")
        .and_then(|s| spec(s, sink));
    let policy_name = name.clone().unwrap_or_default();
    let (mode, default_action, selector, rules) = spec?;
    let policy = Policy {
        name: name?,
        description,
        mode,
        default_action,
        selector,
        rules,
    };
    let demo = top
        .get("demo")
        .and_then(|d| demo::parse(d, &policy_name, &policy, sink));
    Some((policy, demo))
}

fn metadata(node: &Node, sink: &mut Sink) -> (Option<String>, String) {
    let Some(f) = Fields::new(node, &["name", "description"], sink, "metadata") else {
        return (None, String::new());
    };
    let name = f
        .require("name", sink, "metadata")
        .and_then(|n| name(n, sink, "metadata.name"));
    let description = f
        .get("description")
        .and_then(|d| d.str(sink, "metadata.description"))
        .unwrap_or_default();
    (name, description.trim_end().to_owned())
}

/// A policy or rule name: `[a-z0-9-]`, 1..=63 bytes, starting and ending alphanumeric.
pub(crate) fn name(node: &Node, sink: &mut Sink, what: &str) -> Option<String> {
    let s = node.str(sink, what)?;
    if let Some(reason) = name_problem(s) {
        sink.error(node.pos, format!("{what} \"{s}\" {reason}"));
        return None;
    }
    Some(s.to_owned())
}

/// Why `s` is not a valid name, if it is not.
pub(crate) fn name_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("is empty".into());
    }
    if s.len() > MAX_NAME_LEN {
        return Some(format!(
            "is {} bytes long (at most {MAX_NAME_LEN})",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        let hint = if c.is_ascii_uppercase() {
            "; use lower case"
        } else {
            ""
        };
        return Some(format!(
            "contains '{c}' (only a-z, 0-9 and '-' are allowed{hint})"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

type Spec = (Mode, Option<Action>, Selector, Vec<Rule>);

fn spec(node: &Node, sink: &mut Sink) -> Option<Spec> {
    let f = Fields::new(
        node,
        &["mode", "defaultAction", "selector", "rules"],
        sink,
        "spec",
    )?;
    let before = sink.error_count();
    let mode = match f.get("mode") {
        None => Mode::Enforce,
        Some(m) => match m.str(sink, "spec.mode") {
            Some("enforce") => Mode::Enforce,
            Some("audit") => Mode::Audit,
            Some(other) => {
                sink.error(
                    m.pos,
                    format!(
                        "unknown mode \"{other}\" ({})",
                        expected_one_of(other, &["enforce", "audit"])
                    ),
                );
                Mode::Enforce
            }
            None => Mode::Enforce,
        },
    };
    let default_action = f
        .get("defaultAction")
        .and_then(|d| action(d, sink, "spec.defaultAction"))
        .filter(|a| *a != Action::Allow);
    let selector = f
        .get("selector")
        .map(|s| selector(s, sink))
        .unwrap_or_default();
    let mut rules = Vec::new();
    if let Some(list) = f
        .require("rules", sink, "spec")
        .and_then(|r| r.seq(sink, "spec.rules"))
    {
        if list.is_empty() {
            sink.error(
                f.get("rules").map_or(f.pos, |r| r.pos),
                "spec.rules is empty: a policy needs at least one rule",
            );
        }
        let mut seen: Vec<(String, Pos)> = Vec::new();
        for (i, r) in list.iter().enumerate() {
            if let Some(rule) = rule(r, i, &mut seen, sink) {
                rules.push(rule);
            }
        }
    }
    (sink.error_count() == before).then_some((mode, default_action, selector, rules))
}

/// Action spelling -> action; reports unknown spellings.
pub(crate) fn action(node: &Node, sink: &mut Sink, what: &str) -> Option<Action> {
    const ALL: [Action; 4] = [
        Action::Allow,
        Action::Deny,
        Action::DenyAndKill,
        Action::Audit,
    ];
    let s = node.str(sink, what)?;
    let found = ALL.into_iter().find(|a| a.as_str() == s);
    if found.is_none() {
        let names: Vec<&str> = ALL.iter().map(|a| a.as_str()).collect();
        sink.error(
            node.pos,
            format!("unknown action \"{s}\" ({})", expected_one_of(s, &names)),
        );
    }
    found
}

fn selector(node: &Node, sink: &mut Sink) -> Selector {
    let mut sel = Selector::default();
    let Some(f) = Fields::new(
        node,
        &["cgroups", "containers", "namespaces", "podLabels"],
        sink,
        "spec.selector",
    ) else {
        return sel;
    };
    if let Some(c) = f.get("cgroups") {
        for (n, s) in c.str_list(sink, "spec.selector.cgroups") {
            if s.starts_with('/') {
                sel.cgroups.push(s.trim_end_matches('/').to_owned());
            } else {
                sink.error(
                    n.pos,
                    format!(
                        "cgroup \"{s}\" is not an absolute path (e.g. /sys/fs/cgroup/unified/...)"
                    ),
                );
            }
        }
    }
    for (key, out) in [
        ("containers", &mut sel.containers),
        ("namespaces", &mut sel.namespaces),
    ] {
        if let Some(c) = f.get(key) {
            for (n, s) in c.str_list(sink, &format!("spec.selector.{key}")) {
                if s.is_empty() {
                    sink.error(n.pos, format!("spec.selector.{key}: empty name"));
                } else {
                    out.push(s.to_owned());
                }
            }
        }
    }
    if let Some(labels) = f
        .get("podLabels")
        .and_then(|l| l.map(sink, "spec.selector.podLabels"))
    {
        for (k, v) in labels {
            if let (Some(k), Some(v)) =
                (k.str(sink, "pod label key"), v.str(sink, "pod label value"))
            {
                sel.pod_labels.push((k.to_owned(), v.to_owned()));
            }
        }
    }
    sel
}

const RULE_KEYS: [&str; 8] = [
    "name",
    "operations",
    "paths",
    "binaries",
    "uids",
    "nsPids",
    "destinations",
    "action",
];

/// One rule. `seen` holds the names (and positions) of the rules before it, so a duplicate name
/// is reported even when the rule has other errors.
fn rule(node: &Node, index: usize, seen: &mut Vec<(String, Pos)>, sink: &mut Sink) -> Option<Rule> {
    let f = Fields::new(node, &RULE_KEYS, sink, "a rule")?;
    let before = sink.error_count();
    let (name, name_pos) = match f.get("name") {
        Some(n) => (self::name(n, sink, "rule name"), n.pos),
        None => (Some(format!("rule-{index}")), node.pos),
    };
    if let Some(n) = &name {
        match seen.iter().find(|(s, _)| s == n) {
            Some((_, first)) => sink.error(
                name_pos,
                format!("duplicate rule name \"{n}\" (first at line {})", first.line),
            ),
            None => seen.push((n.clone(), name_pos)),
        }
    }
    let operations = f
        .require("operations", sink, "rule")
        .map(|o| operations(o, sink))
        .unwrap_or_default();
    let paths = f
        .get("paths")
        .map(|p| path_match(p, sink, "paths"))
        .unwrap_or_default();
    let binaries = f
        .get("binaries")
        .map(|p| path_match(p, sink, "binaries"))
        .unwrap_or_default();
    let uids = f.get("uids").map(|u| uids(u, sink)).unwrap_or_default();
    let ns_pids = f.get("nsPids").and_then(|n| ns_pids(n, sink));
    let destinations = f
        .get("destinations")
        .map(|d| destinations(d, sink))
        .unwrap_or_default();
    let action = f
        .require("action", sink, "rule")
        .and_then(|a| action(a, sink, "action"));

    // Matchers must fit the operations they qualify.
    if let (Some(key), true) = (f.key("destinations"), !operations.is_empty()) {
        if let Some(op) = operations.iter().find(|o| o.is_path_op()) {
            sink.error(
                key.pos,
                format!("\"destinations\" only applies to connect, but this rule also names \"{}\"; put connect in a rule of its own", op.as_str()),
            );
        }
    }
    if let (Some(key), true) = (f.key("nsPids"), operations.contains(&Operation::Connect)) {
        sink.error(key.pos, "\"nsPids\" does not apply to connect (the cgroup socket programs cannot see the process's pid namespace); put connect in a rule of its own");
    }
    if let (Some(key), true) = (f.key("paths"), operations.contains(&Operation::Connect)) {
        sink.error(key.pos, "\"paths\" does not apply to connect (use \"destinations\"); put connect in a rule of its own");
    }
    if sink.error_count() != before {
        return None;
    }
    Some(Rule {
        name: name?,
        operations,
        paths,
        binaries,
        uids,
        ns_pids,
        destinations,
        action: action?,
    })
}

fn operations(node: &Node, sink: &mut Sink) -> Vec<Operation> {
    let Some(items) = node.seq(sink, "operations") else {
        return Vec::new();
    };
    if items.is_empty() {
        sink.error(node.pos, "operations is empty: name at least one operation");
    }
    let names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
    let mut ops: Vec<Operation> = Vec::new();
    for n in items {
        let Some(s) = n.str(sink, "operations") else {
            continue;
        };
        match Operation::from_name(s) {
            Some(op) if ops.contains(&op) => {
                sink.error(n.pos, format!("operation \"{s}\" is listed twice"))
            }
            Some(op) => ops.push(op),
            None => sink.error(
                n.pos,
                format!("unknown operation \"{s}\" ({})", expected_one_of(s, &names)),
            ),
        }
    }
    ops
}

fn path_match(node: &Node, sink: &mut Sink, what: &str) -> PathMatch {
    let mut m = PathMatch::default();
    let Some(f) = Fields::new(node, &["exact", "prefix", "suffix"], sink, what) else {
        return m;
    };
    for (key, out) in [
        ("exact", &mut m.exact),
        ("prefix", &mut m.prefix),
        ("suffix", &mut m.suffix),
    ] {
        let Some(list) = f.get(key) else { continue };
        let items = list.str_list(sink, &format!("{what}.{key}"));
        for (n, s) in items {
            if let Some(problem) = path_problem(key, s) {
                sink.error(n.pos, format!("{what}.{key}: \"{s}\" {problem}"));
            } else {
                out.push(s.to_owned());
            }
        }
    }
    m
}

/// Why a matcher string is unusable, if it is.
pub(crate) fn path_problem(kind: &str, s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("is empty".into());
    }
    if s.contains('\0') {
        return Some("contains a NUL byte".into());
    }
    if s.len() > MAX_PATH_LEN {
        return Some(format!(
            "is {} bytes long (at most {MAX_PATH_LEN})",
            s.len()
        ));
    }
    if kind != "suffix" && !s.starts_with('/') {
        return Some(format!("is not an absolute path (did you mean \"/{s}\"?)"));
    }
    if kind != "suffix" && s.split('/').any(|c| c == "." || c == "..") {
        return Some(
            "contains \".\" or \"..\": write the resolved path (the kernel matches resolved paths)"
                .into(),
        );
    }
    None
}

fn uids(node: &Node, sink: &mut Sink) -> Vec<u32> {
    let Some(items) = node.seq(sink, "uids") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|n| {
            let v = n.int(sink, "uids")?;
            match u32::try_from(v) {
                Ok(u) if u != u32::MAX => Some(u),
                _ => {
                    sink.error(
                        n.pos,
                        format!("uid {v} is out of range (0..={})", u32::MAX - 1),
                    );
                    None
                }
            }
        })
        .collect()
}

/// `nsPids: {operator: In|NotIn, values: [1]}`.
fn ns_pids(node: &Node, sink: &mut Sink) -> Option<NsPids> {
    let f = Fields::new(node, &["operator", "values"], sink, "nsPids")?;
    let negate = match f
        .require("operator", sink, "nsPids")?
        .str(sink, "operator")?
    {
        "In" => false,
        "NotIn" => true,
        other => {
            let pos = f.get("operator").map_or(node.pos, |n| n.pos);
            sink.error(
                pos,
                format!("nsPids operator \"{other}\": expected In or NotIn"),
            );
            return None;
        }
    };
    let list = f.require("values", sink, "nsPids")?;
    let items = list.seq(sink, "values")?;
    if items.is_empty() || items.len() > NsPids::MAX {
        sink.error(
            list.pos,
            format!("nsPids values: list 1 to {} pids", NsPids::MAX),
        );
        return None;
    }
    let mut values = Vec::new();
    for n in items {
        let v = n.int(sink, "values")?;
        match u32::try_from(v) {
            Ok(p) if p > 0 && p < 1 << 22 => values.push(p),
            _ => {
                sink.error(
                    n.pos,
                    format!("pid {v} is out of range (1..={})", (1 << 22) - 1),
                );
                return None;
            }
        }
    }
    Some(NsPids { negate, values })
}

fn destinations(node: &Node, sink: &mut Sink) -> Vec<Destination> {
    node.str_list(sink, "destinations")
        .into_iter()
        .filter_map(|(n, s)| match parse_destination(s) {
            Ok(d) => Some(d),
            Err(e) => {
                sink.error(n.pos, format!("destination \"{s}\": {e}"));
                None
            }
        })
        .collect()
}

/// `ADDR[/LEN][:PORT]` for IPv4, `ADDR[/LEN]` or `[ADDR][/LEN]:PORT` for IPv6.
pub(crate) fn parse_destination(s: &str) -> Result<Destination, String> {
    let (addr_part, len_part, port_part) = if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or("missing ']' after the IPv6 address")?;
        let (len, port) = match after.split_once(':') {
            Some((l, p)) => (l, Some(p)),
            None => (after, None),
        };
        let len = match len {
            "" => None,
            l => Some(
                l.strip_prefix('/')
                    .ok_or("expected /LEN or :PORT after ']'")?,
            ),
        };
        (addr, len, port)
    } else if s.matches(':').count() > 1 {
        // Bare IPv6: no port possible without brackets.
        match s.split_once('/') {
            Some((a, l)) => (a, Some(l), None),
            None => (s, None, None),
        }
    } else {
        let (rest, port) = match s.split_once(':') {
            Some((r, p)) => (r, Some(p)),
            None => (s, None),
        };
        match rest.split_once('/') {
            Some((a, l)) => (a, Some(l), port),
            None => (rest, None, port),
        }
    };
    let addr: IpAddr = addr_part
        .parse()
        .map_err(|_| format!("\"{addr_part}\" is not an IP address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len_part {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("prefix length \"{l}\" is not in 0..={max}")),
        },
    };
    let network = mask(addr, prefix_len);
    if network != addr {
        return Err(format!(
            "has host bits set (did you mean \"{network}/{prefix_len}\"?)"
        ));
    }
    let port = match port_part {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("port \"{p}\" is not in 1..=65535")),
        },
    };
    Ok(Destination {
        addr,
        prefix_len,
        port,
    })
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}
