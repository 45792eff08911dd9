//! Parser tests: every error class with its exact position, valid documents, robustness.

use super::{
    model::{Action, Mode, Operation},
    parse::{parse_documents_str, parse_policies_str, parse_policy_str},
};

/// Parses `src` expecting failure; returns the rendered errors.
fn errors(src: &str) -> Vec<String> {
    match parse_policy_str(src, "p.yaml") {
        Ok(p) => panic!("expected errors, parsed {p:?}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// A valid policy whose rule body is `rule` (indented as a list item under spec.rules).
fn with_rule(rule: &str) -> String {
    format!("apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: t\nspec:\n  rules:\n{rule}")
}

#[test]
fn full_policy() {
    let src = r#"apiVersion: palisade.dev/v1alpha1
kind: Policy
metadata:
  name: protect-etc
  description: Nothing may change /etc.
spec:
  mode: audit
  defaultAction: deny
  selector:
    cgroups: [/sys/fs/cgroup/unified/x/]
    containers: [web]
    namespaces: [prod]
    podLabels: {app: web}
  rules:
    - name: etc
      operations: [write, unlink]
      paths: {prefix: [/etc/], exact: [/x], suffix: [.conf]}
      binaries: {exact: [/usr/bin/vi]}
      uids: [0, 1000]
      action: deny-and-kill
    - operations: [connect]
      destinations: ["169.254.169.254/32:80", "10.0.0.0/8", "fd00::/8", "[::1]:53", "[fd00::]/16:443"]
      action: allow
"#;
    let p = parse_policy_str(src, "p.yaml").unwrap();
    assert_eq!(p.name, "protect-etc");
    assert_eq!(p.mode, Mode::Audit);
    assert_eq!(p.default_action, Some(Action::Deny));
    assert_eq!(p.selector.cgroups, ["/sys/fs/cgroup/unified/x"]);
    assert_eq!(
        p.selector.pod_labels,
        [("app".to_owned(), "web".to_owned())]
    );
    assert_eq!(p.rules[0].operations, [Operation::Write, Operation::Unlink]);
    assert_eq!(p.rules[0].paths.suffix, [".conf"]);
    assert_eq!(p.rules[0].uids, [0, 1000]);
    assert_eq!(p.rules[0].action, Action::DenyAndKill);
    assert_eq!(p.rules[1].name, "rule-1");
    let d = &p.rules[1].destinations;
    assert_eq!(
        (d[0].addr.to_string(), d[0].prefix_len, d[0].port),
        ("169.254.169.254".into(), 32, Some(80))
    );
    assert_eq!((d[1].prefix_len, d[1].port), (8, None));
    assert_eq!(
        (d[2].addr.to_string(), d[2].prefix_len),
        ("fd00::".into(), 8)
    );
    assert_eq!(
        (d[3].addr.to_string(), d[3].prefix_len, d[3].port),
        ("::1".into(), 128, Some(53))
    );
    assert_eq!((d[4].prefix_len, d[4].port), (16, Some(443)));
}

#[test]
fn defaults() {
    let p = parse_policy_str(
        &with_rule("    - operations: [exec]\n      action: audit\n"),
        "p.yaml",
    )
    .unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.default_action, None);
    assert!(p.rules[0].paths.is_empty());
    assert_eq!(p.description, "");
}

#[test]
fn unknown_operation_with_suggestion() {
    let e = errors(&with_rule(
        "    - operations: [read, wrte]\n      action: deny\n",
    ));
    assert_eq!(
        e,
        ["p.yaml:7:26: error: unknown operation \"wrte\" (did you mean \"write\"? expected one of: read, write, create, unlink, rename, link, symlink, truncate, chmod, chown, setxattr, mkdir, rmdir, exec, mmap-exec, connect)"]
    );
}

#[test]
fn unknown_keys_at_every_level() {
    let src = "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: t\n  labels: {}\nspec:\n  rulez: []\n";
    let e = errors(src);
    assert_eq!(e[0], "p.yaml:5:3: error: unknown key \"labels\" in metadata (expected one of: name, description)");
    assert_eq!(e[1], "p.yaml:7:3: error: unknown key \"rulez\" in spec (did you mean \"rules\"? expected one of: mode, defaultAction, selector, rules)");
    assert_eq!(
        e[2],
        "p.yaml:7:3: error: spec: missing required key \"rules\""
    );
    let e = errors(&with_rule(
        "    - operations: [read]\n      action: deny\n      path: {prefix: [/etc/]}\n",
    ));
    assert_eq!(e, ["p.yaml:9:7: error: unknown key \"path\" in a rule (did you mean \"paths\"? expected one of: name, operations, paths, binaries, uids, nsPids, destinations, action)"]);
    let e = errors(&with_rule(
        "    - operations: [read]\n      action: deny\n      paths: {prefixes: [/etc/]}\n",
    ));
    assert_eq!(e, ["p.yaml:9:15: error: unknown key \"prefixes\" in paths (did you mean \"prefix\"? expected one of: exact, prefix, suffix)"]);
}

#[test]
fn wrong_types() {
    let e = errors(&with_rule("    - operations: read\n      action: deny\n"));
    assert_eq!(
        e,
        ["p.yaml:7:19: error: operations: expected a list, found a string"]
    );
    let e = errors(&with_rule(
        "    - operations: [read]\n      uids: [root]\n      action: deny\n",
    ));
    assert_eq!(
        e,
        ["p.yaml:8:14: error: uids: expected an integer, found a string"]
    );
    let e = errors("apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: 42\nspec:\n  rules: {}\n");
    assert_eq!(
        e,
        [
            "p.yaml:4:9: error: metadata.name: expected a string, found an integer",
            "p.yaml:6:10: error: spec.rules: expected a list, found a mapping"
        ]
    );
}

#[test]
fn bad_destinations() {
    let e = errors(&with_rule(
        "    - operations: [connect]\n      destinations: [\"10.0.0.1/8\", \"300.1.1.1\", \"1.2.3.4/33\", \"1.2.3.4:0\", \"[::1\"]\n      action: deny\n",
    ));
    assert_eq!(
        e,
        [
            "p.yaml:8:22: error: destination \"10.0.0.1/8\": has host bits set (did you mean \"10.0.0.0/8\"?)",
            "p.yaml:8:36: error: destination \"300.1.1.1\": \"300.1.1.1\" is not an IP address",
            "p.yaml:8:49: error: destination \"1.2.3.4/33\": prefix length \"33\" is not in 0..=32",
            "p.yaml:8:63: error: destination \"1.2.3.4:0\": port \"0\" is not in 1..=65535",
            "p.yaml:8:76: error: destination \"[::1\": missing ']' after the IPv6 address",
        ]
    );
}

#[test]
fn duplicate_rule_names_and_empty_operations() {
    let e = errors(&with_rule(
        "    - name: a\n      operations: [read]\n      action: deny\n    - name: a\n      operations: []\n      action: deny\n    - name: a\n      operations: [exec]\n      action: deny\n",
    ));
    assert_eq!(
        e,
        [
            "p.yaml:10:13: error: duplicate rule name \"a\" (first at line 7)",
            "p.yaml:11:19: error: operations is empty: name at least one operation",
            "p.yaml:13:13: error: duplicate rule name \"a\" (first at line 7)",
        ]
    );
}

#[test]
fn matchers_must_fit_operations() {
    let e = errors(&with_rule(
        "    - operations: [read, connect]\n      destinations: [10.0.0.0/8]\n      action: deny\n",
    ));
    assert_eq!(e, ["p.yaml:8:7: error: \"destinations\" only applies to connect, but this rule also names \"read\"; put connect in a rule of its own"]);
    let e = errors(&with_rule(
        "    - operations: [connect]\n      paths: {exact: [/x]}\n      action: deny\n",
    ));
    assert_eq!(e, ["p.yaml:8:7: error: \"paths\" does not apply to connect (use \"destinations\"); put connect in a rule of its own"]);
}

#[test]
fn paths_must_be_absolute_and_resolved() {
    let e = errors(&with_rule("    - operations: [read]\n      paths: {prefix: [etc/], exact: [/a/../b]}\n      action: deny\n"));
    assert_eq!(
        e,
        [
            "p.yaml:8:24: error: paths.prefix: \"etc/\" is not an absolute path (did you mean \"/etc/\"?)",
            "p.yaml:8:39: error: paths.exact: \"/a/../b\" contains \".\" or \"..\": write the resolved path (the kernel matches resolved paths)",
        ]
    );
}

#[test]
fn header_and_name_checks() {
    let src = "apiVersion: palisade.dev/v1\nkind: Polcy\nmetadata:\n  name: Protect_Etc\nspec:\n  rules:\n    - operations: [read]\n      action: dny\n";
    assert_eq!(
        errors(src),
        [
            "p.yaml:1:13: error: unsupported apiVersion \"palisade.dev/v1\" (expected \"palisade.dev/v1alpha1\", or \"cilium.io/v1alpha1\" for a Tetragon TracingPolicy)",
            "p.yaml:2:7: error: unsupported kind \"Polcy\" (expected \"Policy\")",
            "p.yaml:4:9: error: metadata.name \"Protect_Etc\" contains 'P' (only a-z, 0-9 and '-' are allowed; use lower case)",
            "p.yaml:8:15: error: unknown action \"dny\" (did you mean \"deny\"? expected one of: allow, deny, deny-and-kill, audit)",
        ]
    );
    let long = "a".repeat(64);
    let e = errors(&format!("apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: {long}\nspec:\n  rules: [{{operations: [read], action: deny}}]\n"));
    assert_eq!(
        e,
        [format!(
            "p.yaml:4:9: error: metadata.name \"{long}\" is 64 bytes long (at most 63)"
        )]
    );
    let e = errors("kind: Policy\nspec:\n  rules: [{operations: [read], action: deny}]\n");
    assert_eq!(
        e,
        [
            "p.yaml:1:1: error: the policy: missing required key \"apiVersion\"",
            "p.yaml:1:1: error: the policy: missing required key \"metadata\""
        ]
    );
}

#[test]
fn yaml_errors_are_located() {
    assert_eq!(
        errors(""),
        ["p.yaml:1:1: error: no policy document in this file"]
    );
    let e = errors("apiVersion: palisade.dev/v1alpha1\nkind: Policy\nspec:\n  rules: [a, b\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("p.yaml:5:1: error: YAML syntax: "),
        "{}",
        e[0]
    );
    let e = errors(&with_rule(
        "    - operations: [read]\n      action: deny\n      action: allow\n",
    ));
    assert_eq!(
        e,
        ["p.yaml:9:7: error: duplicate key \"action\" (first at line 8)"]
    );
}

#[test]
fn multi_document_files() {
    let one = |n: &str| {
        format!("apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: {n}\nspec:\n  rules: [{{operations: [read], action: audit}}]\n")
    };
    let src = format!("{}---\n{}", one("a"), one("b"));
    let ps = parse_policies_str(&src, "m.yaml").unwrap();
    assert_eq!(
        ps.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let e = parse_policy_str(&src, "m.yaml").unwrap_err().to_string();
    assert_eq!(e, "m.yaml:8:1: error: expected one policy in this file, found 2; name the policy to use instead of the file");
    let dup = format!("{}---\n{}", one("a"), one("a"));
    let e = parse_policies_str(&dup, "m.yaml").unwrap_err().to_string();
    assert_eq!(
        e,
        "m.yaml:8:1: error: duplicate policy name \"a\" (first at line 1)"
    );
    // An error in one document does not hide the errors of the next.
    let bad = format!("{}---\n{}", one("A"), one("b_"));
    assert_eq!(parse_policies_str(&bad, "m.yaml").unwrap_err().0.len(), 2);
}

#[test]
fn demo_is_checked_against_the_policy() {
    let src = with_rule("    - name: r\n      operations: [read]\n      action: deny\ndemo:\n  steps:\n    - run: cat /x\n      expect: denyed\n  event:\n    rule: q\n    operation: read\n    action: deny\n");
    assert_eq!(
        errors(&src),
        [
            "p.yaml:13:15: error: unknown expectation \"denyed\" (did you mean \"denied\"? expected one of: denied, killed, allowed)",
            "p.yaml:15:11: error: policy \"t\" has no rule \"q\" (did you mean \"r\"? expected one of: r)",
        ]
    );
    let src = with_rule("    - name: r\n      operations: [read]\n      action: deny\ndemo:\n  steps: [{run: cat /x, expect: denied}]\n  event: {rule: r, operation: write, action: audit}\n");
    assert_eq!(
        errors(&src),
        [
            "p.yaml:12:31: error: rule \"r\" does not name operation \"write\"",
            "p.yaml:12:46: error: the event would report action \"deny\", not \"audit\"",
        ]
    );
    let ok = with_rule("    - name: r\n      operations: [read]\n      action: deny\ndemo:\n  steps: [{run: cat /x, expect: denied}]\n  event: {rule: r, operation: read, action: deny, path: /x}\n");
    let parsed = parse_documents_str(&ok, "p.yaml").unwrap();
    let demo = parsed.documents[0].demo.as_ref().unwrap();
    assert_eq!(demo.steps[0].run, "cat /x");
    assert_eq!(demo.event.as_ref().unwrap().path.as_deref(), Some("/x"));
}

/// Every prefix of every library file, and byte-level corruptions of them, either parse or fail
/// with located errors; nothing panics.
#[test]
fn truncated_and_corrupted_files_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (name, src) in super::store::LIBRARY {
        for (cut, _) in src.char_indices() {
            if let Err(e) = parse_documents_str(&src[..cut], name) {
                assert!(
                    e.0.iter().all(|d| d.pos.is_some()),
                    "unlocated error in {name} cut at {cut}: {e}"
                );
            }
        }
        let bytes = src.as_bytes();
        for _ in 0..300 {
            let mut b = bytes.to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % b.len();
                b[i] = b" :-[]{}\n#'\"&*!|>0aZ/"[(next() % 20) as usize];
            }
            let s = String::from_utf8_lossy(&b);
            let _ = parse_documents_str(&s, name);
        }
    }
}

#[test]
fn a_file_that_is_not_utf8_is_refused_at_the_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    std::fs::write(
        &path,
        b"apiVersion: palisade.dev/v1alpha1\nmetadata:\n  name: caf\xe9\n",
    )
    .unwrap();
    let e = super::parse::parse_policy_file(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3:12: error: byte 0xe9 is not valid UTF-8: policy files must be UTF-8 text",
            path.display()
        )
    );
}

#[test]
fn ns_pids() {
    let p = parse_policy_str(
        &with_rule("    - operations: [unlink]\n      nsPids: {operator: In, values: [1]}\n      action: deny\n"),
        "p.yaml",
    )
    .unwrap();
    let n = p.rules[0].ns_pids.as_ref().unwrap();
    assert!(!n.negate);
    assert_eq!(n.values, [1]);
    assert_eq!(
        errors(&with_rule("    - operations: [connect]\n      nsPids: {operator: Not, values: [0]}\n      action: deny\n")),
        [
            "p.yaml:8:7: error: \"nsPids\" does not apply to connect (the cgroup socket programs cannot see the process's pid namespace); put connect in a rule of its own",
            "p.yaml:8:26: error: nsPids operator \"Not\": expected In or NotIn",
        ]
    );
}
