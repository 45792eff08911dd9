//! Policy compiler: a validated [`Policy`] becomes the map entries of one policy set
//! (layouts in `bpf/src/enforce.h`).
//!
//! Matching in the kernel is one longest-prefix lookup per trie kind, so every node written here
//! must already carry the complete answer for the paths that land on it: the ordered list (file
//! order, first match wins) of rules whose matchers cover that node, including rules attached to
//! any shorter node (an ancestor prefix) and rules with no path matcher at all (the root node).
//! A list stops after its first rule with no extra condition (uid, binary): nothing after it can
//! ever act. The compiler refuses what the kernel could not decide exactly rather than guessing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use palisade_bpf::enforce_events::{
    action, cond, trie_kind, Alias, AliasKey, Cand, NetCand, NetKey, NetVal, SetCfg, TrieKey,
    TrieVal, UidKey, CANDS, KEY_PATH, NET_CANDS, OPS, RULES,
};

use crate::policy::model::{Action, Mode, Operation, PathMatch, Policy, Rule};

/// Why a policy cannot be compiled for the kernel.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    /// More rules than the kernel's rule index / bitmap allows.
    #[error("policy {policy}: {count} rules, at most {max} are supported")]
    TooManyRules {
        policy: String,
        count: usize,
        max: usize,
    },
    /// An exact path or prefix longer than the trie key.
    #[error("policy {policy}, rule {rule}: path {path:?} is longer than {max} bytes, which the kernel matcher cannot hold")]
    PathTooLong {
        policy: String,
        rule: String,
        path: String,
        max: usize,
    },
    /// Too many conditional rules overlap on one node before an unconditional one.
    #[error("policy {policy}: more than {max} rules with uid/binary conditions overlap on {what} for operation {op}; merge them or order an unconditional rule earlier")]
    TooManyCandidates {
        policy: String,
        what: String,
        op: &'static str,
        max: usize,
    },
    /// Matchers the kernel side does not evaluate for this operation.
    #[error("policy {policy}, rule {rule}: {what}")]
    Unsupported {
        policy: String,
        rule: String,
        what: String,
    },
}

/// Everything one policy set writes into the maps; `set` is filled in by [`compile`]'s caller.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// `pal_sets[set]`.
    pub cfg: SetCfg,
    /// `pal_trie` entries (key scope already includes the set id).
    pub trie: Vec<(TrieKey, TrieVal)>,
    /// `pal_rule_uids` keys.
    pub uids: Vec<UidKey>,
    /// `pal_net` entries.
    pub net: Vec<(NetKey, NetVal)>,
    /// Rule names by index, for decision records.
    pub rule_names: Vec<String>,
    /// Hard links that exist at apply time (filled by `identity::collect`).
    pub aliases: Vec<(AliasKey, Alias)>,
}

fn op_index(op: Operation) -> usize {
    Operation::ALL
        .iter()
        .position(|o| *o == op)
        .expect("every op is in ALL")
}

fn kernel_action(a: Action, mode: Mode) -> u8 {
    match (a, mode) {
        (Action::Allow, _) => action::ALLOW,
        (Action::Audit, _) | (Action::Deny | Action::DenyAndKill, Mode::Audit) => action::AUDIT,
        (Action::Deny, Mode::Enforce) => action::DENY,
        (Action::DenyAndKill, Mode::Enforce) => action::KILL,
    }
}

fn rule_cond(r: &Rule) -> u8 {
    let mut c = 0;
    if !r.uids.is_empty() {
        c |= cond::UID;
    }
    if !r.binaries.is_empty() {
        c |= cond::BIN;
    }
    match &r.ns_pids {
        Some(n) if n.negate => c |= cond::NSPID_NOT,
        Some(_) => c |= cond::NSPID,
        None => {}
    }
    c
}

/// A trie node: the key bytes after the scope (exact paths carry their NUL).
type Node = Vec<u8>;

fn exact_node(p: &str) -> Node {
    let mut v = p.as_bytes().to_vec();
    v.push(0);
    v
}

fn reversed(p: &str) -> Node {
    p.bytes().rev().collect()
}

fn trie_key(set: u32, kind: u32, node: &[u8]) -> TrieKey {
    let mut k = TrieKey {
        prefixlen: 32 + 8 * node.len() as u32,
        scope: set << 2 | kind,
        ..Default::default()
    };
    k.path[..node.len()].copy_from_slice(node);
    k
}

/// Forward nodes (exact + prefix) of a matcher.
fn fwd_nodes(m: &PathMatch) -> Vec<Node> {
    m.exact
        .iter()
        .map(|p| exact_node(p))
        .chain(m.prefix.iter().map(|p| p.as_bytes().to_vec()))
        .collect()
}

fn rev_nodes(m: &PathMatch) -> Vec<Node> {
    m.suffix.iter().map(|s| reversed(s)).collect()
}

/// Parent directories of a protected path or prefix, without the root: renaming any of them
/// would move the protected names (`/etc/` -> `/etc`; `/etc/shadow` -> `/etc`; `/a/b/` -> `/a/b`, `/a`).
fn ancestor_dirs(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = p.trim_end_matches('/');
    if p.ends_with('/') && !cur.is_empty() {
        out.push(cur.to_string());
    }
    while let Some(i) = cur.rfind('/') {
        cur = &cur[..i];
        if cur.is_empty() {
            break;
        }
        out.push(cur.to_string());
    }
    out
}

/// Compiles `p` as policy set `set`.
pub fn compile(p: &Policy, set: u32) -> Result<Compiled, CompileError> {
    let max_rules = RULES.min(usize::from(u16::MAX));
    if p.rules.len() > max_rules {
        return Err(CompileError::TooManyRules {
            policy: p.name.clone(),
            count: p.rules.len(),
            max: max_rules,
        });
    }
    let mut out = Compiled {
        rule_names: p.rules.iter().map(|r| r.name.clone()).collect(),
        ..Default::default()
    };
    check_lengths(p)?;

    // Per-set configuration.
    for r in &p.rules {
        for op in &r.operations {
            let bit = 1u32 << op_index(*op);
            out.cfg.listed_ops |= bit;
            if matches!(kernel_action(r.action, p.mode), action::DENY | action::KILL) {
                out.cfg.deny_ops |= bit;
            }
        }
    }
    out.cfg.default_action = match p.default_action {
        None | Some(Action::Allow) => action::NONE,
        Some(a) => kernel_action(a, p.mode),
    };
    if matches!(out.cfg.default_action, action::DENY | action::KILL) {
        out.cfg.deny_ops |= out.cfg.listed_ops;
    }
    out.cfg.audit = u8::from(p.mode == Mode::Audit);
    let path_rules: Vec<(usize, &Rule)> = p
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.operations.iter().any(|o| o.is_path_op()))
        .collect();
    out.cfg.has_suffix = u8::from(path_rules.iter().any(|(_, r)| !r.paths.suffix.is_empty()));
    out.cfg.has_bin_suffix = u8::from(p.rules.iter().any(|r| !r.binaries.suffix.is_empty()));

    compile_paths(p, set, &path_rules, &mut out)?;
    compile_binaries(p, set, &mut out);
    for (i, r) in p.rules.iter().enumerate() {
        for uid in &r.uids {
            out.uids.push(UidKey {
                set,
                rule: i as u32,
                uid: *uid,
            });
        }
        // nsPids share the map: same (set, rule) with the top bit of `rule` set
        for pid in r.ns_pids.iter().flat_map(|n| &n.values) {
            out.uids.push(UidKey {
                set,
                rule: i as u32 | cond::NSPID_RULE,
                uid: *pid,
            });
        }
    }
    compile_net(p, set, &mut out)?;
    Ok(out)
}

fn check_lengths(p: &Policy) -> Result<(), CompileError> {
    for r in &p.rules {
        for m in [&r.paths, &r.binaries] {
            // exact paths need room for their NUL; prefixes and suffixes must fit whole
            let too_long = m.exact.iter().find(|s| s.len() + 1 > KEY_PATH).or_else(|| {
                m.prefix
                    .iter()
                    .chain(&m.suffix)
                    .find(|s| s.len() > KEY_PATH)
            });
            if let Some(s) = too_long {
                return Err(CompileError::PathTooLong {
                    policy: p.name.clone(),
                    rule: r.name.clone(),
                    path: s.clone(),
                    max: KEY_PATH - 1,
                });
            }
        }
    }
    Ok(())
}

/// Indices of the rules whose matcher nodes (`per_rule[k]` for `rules[k]`; none = any path)
/// cover every path that lands on `node`: one of their nodes is a prefix of it.
fn covering(rules: &[(usize, &Rule)], per_rule: &[Vec<Node>], node: &[u8]) -> HashSet<usize> {
    rules
        .iter()
        .zip(per_rule)
        .filter(|((_, r), ns)| r.paths.is_empty() || ns.iter().any(|n| node.starts_with(n)))
        .map(|((i, _), _)| *i)
        .collect()
}

fn compile_paths(
    p: &Policy,
    set: u32,
    rules: &[(usize, &Rule)],
    out: &mut Compiled,
) -> Result<(), CompileError> {
    let any_path = rules.iter().any(|(_, r)| r.paths.is_empty());

    // forward nodes, plus the synthetic "ancestor directory" nodes that guard renames
    let mut fwd: BTreeSet<Node> = BTreeSet::new();
    let mut guards: BTreeMap<Node, BTreeSet<usize>> = BTreeMap::new();
    for (i, r) in rules {
        fwd.extend(fwd_nodes(&r.paths));
        if r.action != Action::Allow {
            for path in r.paths.exact.iter().chain(&r.paths.prefix) {
                for dir in ancestor_dirs(path) {
                    guards.entry(exact_node(&dir)).or_default().insert(*i);
                }
            }
        }
    }
    fwd.extend(guards.keys().cloned());
    let denying = |i: &usize| {
        matches!(
            kernel_action(p.rules[*i].action, p.mode),
            action::DENY | action::KILL
        )
    };
    if guards.values().flatten().any(denying) {
        out.cfg.deny_ops |= 1 << op_index(Operation::Rename);
    }
    if any_path {
        fwd.insert(Vec::new());
    }
    let rename = op_index(Operation::Rename);
    let rule_fwd: Vec<Vec<Node>> = rules.iter().map(|(_, r)| fwd_nodes(&r.paths)).collect();
    for node in &fwd {
        let cov = covering(rules, &rule_fwd, node);
        let guard = guards.get(node);
        let relevant: Vec<(usize, &Rule)> = rules
            .iter()
            .filter(|(i, _)| cov.contains(i) || guard.is_some_and(|g| g.contains(i)))
            .copied()
            .collect();
        let what = || {
            format!(
                "path {:?}",
                String::from_utf8_lossy(node)
                    .trim_end_matches('\0')
                    .to_string()
            )
        };
        let val = node_value(p, &relevant, what, |op, i, r| {
            (r.operations.contains(&Operation::ALL[op]) && cov.contains(&i))
                // whatever the rule lists: moving a directory above its paths escapes all of it
                || (op == rename && guard.is_some_and(|g| g.contains(&i)))
        })?;
        out.trie.push((trie_key(set, trie_kind::PATH, node), val));
    }

    if out.cfg.has_suffix == 0 {
        return Ok(());
    }
    let mut rev: BTreeSet<Node> = rules
        .iter()
        .flat_map(|(_, r)| rev_nodes(&r.paths))
        .collect();
    if any_path {
        rev.insert(Vec::new());
    }
    let rule_rev: Vec<Vec<Node>> = rules.iter().map(|(_, r)| rev_nodes(&r.paths)).collect();
    for node in &rev {
        let cov = covering(rules, &rule_rev, node);
        let relevant: Vec<(usize, &Rule)> = rules
            .iter()
            .filter(|(i, _)| cov.contains(i))
            .copied()
            .collect();
        let what = || {
            format!(
                "suffix {:?}",
                String::from_utf8_lossy(&node.iter().rev().copied().collect::<Vec<_>>())
            )
        };
        let val = node_value(p, &relevant, what, |op, i, r| {
            r.operations.contains(&Operation::ALL[op]) && cov.contains(&i)
        })?;
        out.trie
            .push((trie_key(set, trie_kind::PATH_REV, node), val));
    }
    Ok(())
}

/// Candidate lists of one node: for each op, the covering rules in file order, cut after the
/// first unconditional one.
fn node_value(
    p: &Policy,
    rules: &[(usize, &Rule)],
    what: impl Fn() -> String,
    covers: impl Fn(usize, usize, &Rule) -> bool,
) -> Result<TrieVal, CompileError> {
    let mut val = TrieVal::default();
    for (op_i, op) in Operation::ALL.iter().enumerate().take(OPS) {
        if !op.is_path_op() {
            continue;
        }
        let mut n = 0;
        for (i, r) in rules {
            if !covers(op_i, *i, r) {
                continue;
            }
            if n == CANDS {
                return Err(CompileError::TooManyCandidates {
                    policy: p.name.clone(),
                    what: what(),
                    op: op.as_str(),
                    max: CANDS,
                });
            }
            let c = rule_cond(r);
            val.cand[op_i][n] = Cand {
                rule: *i as u16,
                action: kernel_action(r.action, p.mode),
                cond: c,
            };
            n += 1;
            if c == 0 {
                break;
            }
        }
    }
    Ok(val)
}

fn compile_binaries(p: &Policy, set: u32, out: &mut Compiled) {
    let with_bin: Vec<(usize, &Rule)> = p
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.binaries.is_empty())
        .collect();
    let fwd: BTreeSet<Node> = with_bin
        .iter()
        .flat_map(|(_, r)| fwd_nodes(&r.binaries))
        .collect();
    let rev: BTreeSet<Node> = with_bin
        .iter()
        .flat_map(|(_, r)| rev_nodes(&r.binaries))
        .collect();
    for (kind, nodes) in [(trie_kind::BIN, fwd), (trie_kind::BIN_REV, rev)] {
        for node in nodes {
            let mut bits = [0u64; RULES / 64];
            for (i, r) in &with_bin {
                let matchers = if kind == trie_kind::BIN {
                    fwd_nodes(&r.binaries)
                } else {
                    rev_nodes(&r.binaries)
                };
                if matchers.iter().any(|m| node.starts_with(m)) {
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
            out.trie
                .push((trie_key(set, kind, &node), TrieVal::from_bin_rules(&bits)));
        }
    }
}

/// One network trie node: family + the first `bits` of the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NetNode {
    family: u8,
    addr: [u8; 16],
    bits: u8,
}

impl NetNode {
    fn new(addr: IpAddr, bits: u8) -> Self {
        let (family, a) = match addr {
            IpAddr::V4(v4) => {
                let mut a = [0u8; 16];
                a[..4].copy_from_slice(&v4.octets());
                (4, a)
            }
            IpAddr::V6(v6) => (6, v6.octets()),
        };
        Self {
            family,
            addr: a,
            bits,
        }
        .masked(bits)
    }

    /// The same address with only its first `bits` kept (so equal networks compare equal).
    fn masked(&self, bits: u8) -> Self {
        let mut addr = self.addr;
        for (i, byte) in addr.iter_mut().enumerate() {
            let keep = (bits as usize).saturating_sub(i * 8).min(8);
            *byte &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
        }
        Self {
            family: self.family,
            addr,
            bits,
        }
    }

    /// True when every address of `node` is inside this network.
    fn covers(&self, node: &Self) -> bool {
        self.family == node.family && self.bits <= node.bits && node.masked(self.bits) == *self
    }
}

fn compile_net(p: &Policy, set: u32, out: &mut Compiled) -> Result<(), CompileError> {
    let rules: Vec<(usize, &Rule)> = p
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.operations.contains(&Operation::Connect))
        .collect();
    if rules.is_empty() {
        return Ok(());
    }
    for (_, r) in &rules {
        if !r.binaries.is_empty() {
            return Err(CompileError::Unsupported {
                policy: p.name.clone(),
                rule: r.name.clone(),
                what: "binaries matchers are not supported on connect rules (cgroup socket programs cannot see the executable)".into(),
            });
        }
    }
    let roots = [
        NetNode::new(IpAddr::from([0u8; 4]), 0),
        NetNode::new(IpAddr::from([0u8; 16]), 0),
    ];
    let mut nodes: BTreeSet<NetNode> = BTreeSet::new();
    for (_, r) in &rules {
        if r.destinations.is_empty() {
            nodes.extend(roots);
        }
        for d in &r.destinations {
            nodes.insert(NetNode::new(d.addr, d.prefix_len));
        }
    }
    for node in nodes {
        let mut val = NetVal::default();
        let mut n = 0;
        'rules: for (i, r) in &rules {
            // any-destination rules sit at the family roots, which every node descends from
            let mut hits: Vec<u16> = Vec::new();
            if r.destinations.is_empty() {
                hits.push(0);
            }
            for d in &r.destinations {
                if NetNode::new(d.addr, d.prefix_len).covers(&node) {
                    hits.push(d.port.unwrap_or(0));
                }
            }
            hits.sort_unstable();
            hits.dedup();
            let c = rule_cond(r);
            for port in hits {
                if n == NET_CANDS {
                    return Err(CompileError::TooManyCandidates {
                        policy: p.name.clone(),
                        what: format!("destination {:?}/{}", node.addr, node.bits),
                        op: Operation::Connect.as_str(),
                        max: NET_CANDS,
                    });
                }
                val.cand[n] = NetCand {
                    rule: *i as u16,
                    port,
                    action: kernel_action(r.action, p.mode),
                    cond: c,
                    ..Default::default()
                };
                n += 1;
                if c == 0 && port == 0 {
                    break 'rules;
                }
            }
        }
        let addr_bytes = if node.family == 4 { 4 } else { 16 };
        let mut key = NetKey {
            set,
            family: node.family,
            ..Default::default()
        };
        key.addr[..addr_bytes].copy_from_slice(&node.addr[..addr_bytes]);
        key.prefixlen = 32 + 8 + u32::from(node.bits);
        out.net.push((key, val));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{Destination, Selector};

    /// What the kernel's forward-trie lookup finds for `path` in a compiled set: the longest stored
    /// prefix of the key (the path plus its NUL, cut to the key size).
    fn lookup_path(c: &Compiled, path: &str) -> Option<TrieVal> {
        let mut key = path.as_bytes().to_vec();
        key.push(0);
        key.truncate(KEY_PATH);
        c.trie
            .iter()
            .filter(|(k, _)| k.scope & 3 == trie_kind::PATH)
            .filter(|(k, _)| {
                let n = (k.prefixlen as usize - 32) / 8;
                key.len() >= n && key[..n] == k.path[..n]
            })
            .max_by_key(|(k, _)| k.prefixlen)
            .map(|(_, v)| *v)
    }

    fn rule(name: &str, ops: &[Operation], paths: PathMatch, action: Action) -> Rule {
        Rule {
            name: name.into(),
            operations: ops.to_vec(),
            paths,
            binaries: PathMatch::default(),
            uids: vec![],
            ns_pids: None,
            destinations: vec![],
            action,
        }
    }

    fn policy(rules: Vec<Rule>) -> Policy {
        Policy {
            name: "t".into(),
            description: String::new(),
            mode: Mode::Enforce,
            default_action: None,
            selector: Selector::default(),
            rules,
        }
    }

    fn prefix(p: &[&str]) -> PathMatch {
        PathMatch {
            prefix: p.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn exact(p: &[&str]) -> PathMatch {
        PathMatch {
            exact: p.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn first(c: &Compiled, path: &str, op: Operation) -> Option<(u16, u8)> {
        let v = lookup_path(c, path)?;
        let cand = v.cand[op_index(op)][0];
        (cand.action != action::NONE).then_some((cand.rule, cand.action))
    }

    #[test]
    fn prefix_and_exact_share_the_trie_and_first_match_wins() {
        let p = policy(vec![
            rule(
                "deny-etc",
                &[Operation::Unlink, Operation::Write],
                prefix(&["/etc/"]),
                Action::Deny,
            ),
            rule(
                "allow-hosts",
                &[Operation::Write],
                exact(&["/etc/hosts"]),
                Action::Allow,
            ),
        ]);
        let c = compile(&p, 7).unwrap();
        assert_eq!(
            first(&c, "/etc/shadow", Operation::Unlink),
            Some((0, action::DENY))
        );
        // the earlier prefix rule wins over the later, more specific exact rule
        assert_eq!(
            first(&c, "/etc/hosts", Operation::Write),
            Some((0, action::DENY))
        );
        assert_eq!(first(&c, "/etc", Operation::Unlink), None);
        assert_eq!(first(&c, "/tmp/x", Operation::Unlink), None);
        assert!(c.trie.iter().all(|(k, _)| k.scope >> 2 == 7));
        // rename too: the guards on /etc, the ancestor of the protected prefix
        assert_eq!(
            c.cfg.deny_ops,
            1 << op_index(Operation::Unlink)
                | 1 << op_index(Operation::Write)
                | 1 << op_index(Operation::Rename)
        );
    }

    #[test]
    fn later_exact_allow_applies_when_listed_first() {
        let p = policy(vec![
            rule(
                "allow-hosts",
                &[Operation::Write],
                exact(&["/etc/hosts"]),
                Action::Allow,
            ),
            rule(
                "deny-etc",
                &[Operation::Write],
                prefix(&["/etc/"]),
                Action::Deny,
            ),
        ]);
        let c = compile(&p, 1).unwrap();
        assert_eq!(
            first(&c, "/etc/hosts", Operation::Write),
            Some((0, action::ALLOW))
        );
        assert_eq!(
            first(&c, "/etc/passwd", Operation::Write),
            Some((1, action::DENY))
        );
    }

    #[test]
    fn ancestors_of_protected_paths_refuse_rename() {
        let p = policy(vec![rule(
            "etc",
            &[Operation::Unlink],
            prefix(&["/etc/ssh/"]),
            Action::Deny,
        )]);
        let c = compile(&p, 1).unwrap();
        assert_eq!(
            first(&c, "/etc/ssh", Operation::Rename),
            Some((0, action::DENY))
        );
        assert_eq!(
            first(&c, "/etc", Operation::Rename),
            Some((0, action::DENY))
        );
        assert_eq!(first(&c, "/etc", Operation::Unlink), None);
        assert_eq!(first(&c, "/tmp", Operation::Rename), None);
    }

    #[test]
    fn conditional_candidates_keep_going_until_unconditional() {
        let mut r0 = rule(
            "root-only",
            &[Operation::Write],
            prefix(&["/etc/"]),
            Action::Allow,
        );
        r0.uids = vec![0];
        let p = policy(vec![
            r0,
            rule("deny", &[Operation::Write], prefix(&["/"]), Action::Deny),
        ]);
        let c = compile(&p, 1).unwrap();
        let v = lookup_path(&c, "/etc/x").unwrap();
        let w = op_index(Operation::Write);
        assert_eq!(
            v.cand[w][0],
            Cand {
                rule: 0,
                action: action::ALLOW,
                cond: cond::UID
            }
        );
        assert_eq!(
            v.cand[w][1],
            Cand {
                rule: 1,
                action: action::DENY,
                cond: 0
            }
        );
        assert_eq!(
            c.uids,
            vec![UidKey {
                set: 1,
                rule: 0,
                uid: 0
            }]
        );
    }

    #[test]
    fn audit_mode_downgrades_and_default_deny_fails_closed() {
        let mut p = policy(vec![rule(
            "x",
            &[Operation::Exec],
            prefix(&["/tmp/"]),
            Action::Deny,
        )]);
        p.mode = Mode::Audit;
        let c = compile(&p, 1).unwrap();
        assert_eq!(
            first(&c, "/tmp/a", Operation::Exec),
            Some((0, action::AUDIT))
        );
        assert_eq!(c.cfg.deny_ops, 0);
        p.mode = Mode::Enforce;
        p.default_action = Some(Action::Deny);
        let c = compile(&p, 1).unwrap();
        assert_eq!(c.cfg.default_action, action::DENY);
        assert_eq!(
            c.cfg.deny_ops,
            1 << op_index(Operation::Exec) | 1 << op_index(Operation::Rename)
        );
    }

    #[test]
    fn over_long_paths_are_refused() {
        let long = format!("/{}", "a".repeat(KEY_PATH));
        let p = policy(vec![rule(
            "x",
            &[Operation::Unlink],
            exact(&[&long]),
            Action::Deny,
        )]);
        assert!(matches!(
            compile(&p, 1),
            Err(CompileError::PathTooLong { .. })
        ));
    }

    #[test]
    fn connect_destinations_compile_to_family_tries() {
        let mut r = rule(
            "md",
            &[Operation::Connect],
            PathMatch::default(),
            Action::Deny,
        );
        r.destinations = vec![
            Destination {
                addr: "169.254.169.254".parse().unwrap(),
                prefix_len: 32,
                port: Some(80),
            },
            Destination {
                addr: "10.0.0.0".parse().unwrap(),
                prefix_len: 8,
                port: None,
            },
        ];
        let c = compile(&policy(vec![r]), 3).unwrap();
        assert_eq!(c.net.len(), 2);
        let md = c
            .net
            .iter()
            .find(|(k, _)| k.prefixlen == 32 + 8 + 32)
            .unwrap();
        assert_eq!(&md.0.addr[..4], &[169, 254, 169, 254]);
        assert_eq!(md.1.cand[0].port, 80);
        assert_eq!(c.cfg.listed_ops, 1 << op_index(Operation::Connect));
    }

    #[test]
    fn a_thousand_rules_compile_to_one_node_each_plus_shared_guards() {
        let rules = (0..1000)
            .map(|i| {
                rule(
                    &format!("r{i}"),
                    &[Operation::Write],
                    prefix(&[&format!("/srv/data-{i}/")]),
                    Action::Deny,
                )
            })
            .collect();
        let c = compile(&policy(rules), 9).unwrap();
        // 1000 prefixes, 1000 "/srv/data-i" guards and one shared "/srv" guard
        assert_eq!(c.trie.len(), 2001);
        assert_eq!(
            first(&c, "/srv/data-517/x", Operation::Write),
            Some((517, action::DENY))
        );
        assert_eq!(first(&c, "/srv/data-5170/x", Operation::Write), None);
    }
}
