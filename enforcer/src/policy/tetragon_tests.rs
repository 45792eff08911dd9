//! Tetragon import tests: the extended quickstart policy, each translation, each rejection.

use super::{
    model::{Action, Mode, Operation},
    parse::{parse_documents_str, Origin},
    tetragon::import_tracing_policy_str,
};

const QUICKSTART: &str = include_str!("../../../policies/tetragon/file-monitoring-enforce.yaml");

fn tp(spec: &str) -> String {
    format!(
        "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n{spec}"
    )
}

fn errors(src: &str) -> Vec<String> {
    match import_tracing_policy_str(src, "tp.yaml") {
        Ok(p) => panic!("expected errors, imported {p:?}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn quickstart_with_unlink_imports_as_inline_deny() {
    let parsed = parse_documents_str(QUICKSTART, "q.yaml").unwrap();
    let doc = &parsed.documents[0];
    assert_eq!(doc.origin, Origin::Tetragon);
    let p = &doc.policy;
    assert_eq!(p.name, "file-monitoring-filtered");
    assert_eq!(p.selector.namespaces, ["default"]);
    let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "file-permission-s0",
            "file-permission-s1",
            "file-permission-s2",
            "mmap-file-s0",
            "mmap-file-s1",
            "path-truncate-s0",
            "path-unlink-s0"
        ]
    );
    // Every Sigkill became an inline deny plus the kill.
    assert!(p.rules.iter().all(|r| r.action == Action::DenyAndKill));
    let unlink = &p.rules[6];
    assert_eq!(unlink.operations, [Operation::Unlink]);
    assert!(unlink.paths.prefix.contains(&"/etc".to_owned()));
    assert_eq!(p.rules[0].operations, [Operation::Read]);
    assert_eq!(p.rules[0].paths.prefix[2], "/etc/shadow");
    assert_eq!(p.rules[1].paths.suffix[0], ".bashrc");
    assert_eq!(p.rules[2].operations, [Operation::Write]);
    assert_eq!(p.rules[4].operations, [Operation::Write]);
    // The ten dotfile "prefixes" of the mmap selector and the missing namespace are warnings.
    assert_eq!(parsed.warnings.len(), 11);
    assert_eq!(
        parsed.warnings[1].to_string(),
        "q.yaml:72:144: warning: Prefix \".bashrc\" is not an absolute path and never matches in Tetragon either; dropped"
    );
}

#[test]
fn actions_translate() {
    let hook = |actions: &str| {
        tp(&format!(
            "  kprobes:\n  - call: security_path_unlink\n    syscall: false\n    args: [{{index: 1, type: dentry}}]\n    selectors:\n    - matchArgs: [{{index: 1, operator: Equal, values: [/etc/shadow]}}]\n{actions}"
        ))
    };
    let action_of =
        |a: &str| import_tracing_policy_str(&hook(a), "tp.yaml").unwrap()[0].rules[0].action;
    assert_eq!(
        action_of("      matchActions: [{action: Post}]\n"),
        Action::Audit
    );
    assert_eq!(action_of(""), Action::Audit);
    assert_eq!(
        action_of("      matchActions: [{action: Override, argError: -1}]\n"),
        Action::Deny
    );
    assert_eq!(
        action_of("      matchActions: [{action: Sigkill}]\n"),
        Action::DenyAndKill
    );
    assert_eq!(
        action_of("      matchActions: [{action: Override, argError: -1}, {action: Sigkill}]\n"),
        Action::DenyAndKill
    );
    assert_eq!(
        action_of("      matchActions: [{action: Signal, argSig: 9}]\n"),
        Action::DenyAndKill
    );
    let p = &import_tracing_policy_str(&hook(""), "tp.yaml").unwrap()[0];
    assert_eq!(p.rules[0].paths.exact, ["/etc/shadow"]);
    assert_eq!(
        errors(&hook("      matchActions: [{action: Override, argError: -2}, {action: GetUrl, argUrl: x}, {action: NoPost}]\n")),
        [
            "tp.yaml:12:51: error: argError -2 cannot be translated: palisade fails denied operations with EPERM (-1)",
            "tp.yaml:12:65: error: action GetUrl cannot be translated (translatable: Post, Override, Sigkill, Signal with argSig 9)",
            "tp.yaml:12:94: error: NoPost cannot be translated: palisade always reports its decisions",
        ]
    );
}

#[test]
fn hooks_without_selectors_lsmhooks_options_and_selectors() {
    let src = "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n  options: [{name: policy-mode, value: monitor}, {name: disable-kprobe-multi, value: \"1\"}]\n  podSelector: {matchLabels: {app: web}}\n  containerSelector:\n    matchExpressions: [{key: name, operator: In, values: [nginx]}]\n  lsmhooks:\n  - hook: file_open\n    args: [{index: 0, type: file}]\n  - hook: bprm_check_security\n    args: [{index: 0, type: linux_binprm}]\n    selectors:\n    - matchArgs: [{index: 0, operator: Prefix, values: [/tmp/]}]\n      matchBinaries: [{operator: In, values: [/bin/sh]}]\n      matchActions: [{action: Override, argError: -1}]\n";
    let p = &import_tracing_policy_str(src, "tp.yaml").unwrap()[0];
    assert_eq!(p.mode, Mode::Audit);
    assert_eq!(
        p.selector.pod_labels,
        [("app".to_owned(), "web".to_owned())]
    );
    assert_eq!(p.selector.containers, ["nginx"]);
    // The audit hook may come first: the two hooks share no operation.
    assert_eq!(p.rules[0].operations, [Operation::Read, Operation::Write]);
    assert!(p.rules[0].paths.is_empty());
    assert_eq!(p.rules[0].action, Action::Audit);
    assert_eq!(p.rules[1].operations, [Operation::Exec]);
    assert_eq!(p.rules[1].binaries.exact, ["/bin/sh"]);
    assert_eq!(p.rules[1].action, Action::Deny);
}

#[test]
fn masks_and_protections_select_operations() {
    let src = tp("  kprobes:\n  - call: security_mmap_file\n    syscall: false\n    args: [{index: 0, type: file}, {index: 1, type: uint32}]\n    selectors:\n    - matchArgs: [{index: 1, operator: Mask, values: [\"4\"]}]\n      matchActions: [{action: Override, argError: -1}]\n  - call: security_file_permission\n    syscall: false\n    args: [{index: 0, type: file}, {index: 1, type: int}]\n    selectors:\n    - matchArgs: [{index: 1, operator: Mask, values: [\"10\"]}]\n      matchActions: [{action: Override, argError: -1}]\n");
    let p = &import_tracing_policy_str(&src, "tp.yaml").unwrap()[0];
    assert_eq!(p.rules[0].operations, [Operation::MmapExec]);
    assert_eq!(p.rules[1].operations, [Operation::Write]);
}

#[test]
fn exceptions_become_allow_rules_first() {
    let src = tp("  kprobes:\n  - call: security_file_open\n    syscall: false\n    args: [{index: 0, type: file}]\n    selectors:\n    - matchArgs:\n      - {index: 0, operator: Prefix, values: [/etc/]}\n      - {index: 0, operator: NotPrefix, values: [/etc/ssl/]}\n      matchBinaries: [{operator: NotIn, values: [/usr/sbin/sshd]}]\n      matchActions: [{action: Override, argError: -1}]\n");
    let p = &import_tracing_policy_str(&src, "tp.yaml").unwrap()[0];
    let shape: Vec<(&str, Action)> = p
        .rules
        .iter()
        .map(|r| (r.name.as_str(), r.action))
        .collect();
    assert_eq!(
        shape,
        [
            ("file-open-s0-except-paths", Action::Allow),
            ("file-open-s0-except-binaries", Action::Allow),
            ("file-open-s0", Action::Deny)
        ]
    );
    assert_eq!(p.rules[0].paths.prefix, ["/etc/ssl/"]);
    assert_eq!(p.rules[1].binaries.exact, ["/usr/sbin/sshd"]);
    assert_eq!(p.rules[1].paths.prefix, ["/etc/"]);
    assert_eq!(p.rules[2].paths.prefix, ["/etc/"]);
}

#[test]
fn connect_destinations() {
    let src = tp("  kprobes:\n  - call: security_socket_connect\n    syscall: false\n    args: [{index: 1, type: sockaddr}]\n    selectors:\n    - matchArgs:\n      - {index: 1, operator: DAddr, values: [169.254.169.254, 10.0.0.0/8]}\n      - {index: 1, operator: DPort, values: [\"80\"]}\n      matchActions: [{action: Override, argError: -1}]\n");
    let p = &import_tracing_policy_str(&src, "tp.yaml").unwrap()[0];
    let d: Vec<String> = p.rules[0]
        .destinations
        .iter()
        .map(super::render::destination)
        .collect();
    assert_eq!(d, ["169.254.169.254/32:80", "10.0.0.0/8:80"]);
    assert_eq!(p.rules[0].operations, [Operation::Connect]);
}

#[test]
fn untranslatable_constructs_are_located_errors() {
    let src = tp("  tracepoints: []\n  kprobes:\n  - call: security_file_opn\n    syscall: false\n  - call: sys_write\n    syscall: true\n  - call: security_path_unlink\n    syscall: true\n    args: [{index: 0, type: file}]\n  - call: security_file_open\n    syscall: false\n    args: [{index: 0, type: file}]\n    selectors:\n    - matchPIDs: [{operator: NotIn, values: [1]}]\n      matchArg: []\n    - matchArgs: [{index: 2, operator: Equal, values: [x]}]\n    - matchArgs:\n      - {index: 0, operator: Prefix, values: [/etc]}\n      - {index: 0, operator: Postfix, values: [.conf]}\n");
    assert_eq!(
        errors(&src),
        [
            "tp.yaml:6:3: error: spec.tracepoints cannot be translated: tracepoints cannot deny; palisade enforces at security hooks (use a kprobe on the matching security_* function)",
            "tp.yaml:8:11: error: call \"security_file_opn\" cannot be translated (did you mean \"security_file_open\"? expected one of: security_file_open, security_file_permission, security_mmap_file, security_file_truncate, security_path_truncate, security_path_unlink, security_path_rmdir, security_path_mkdir, security_path_symlink, security_path_link, security_path_rename, security_path_chmod, security_path_chown, security_bprm_check, security_bprm_creds_for_exec, security_socket_connect)",
            "tp.yaml:10:11: error: call \"sys_write\" cannot be translated (palisade enforces at security hooks only; hook the security_* function that guards this operation)",
            "tp.yaml:13:14: error: syscall: true does not fit security_path_unlink, a kernel function (write syscall: false)",
            "tp.yaml:14:29: error: security_path_unlink argument 0 is the parent directory; type \"file\" does not fit (expected one of: path)",
            "tp.yaml:19:19: error: matchPIDs without isNamespacePID: true cannot be translated: host pids are reused and not known when the policy is written (isNamespacePID: true matches pids in the process's own pid namespace, 1 = a container's init)",
            "tp.yaml:20:7: error: unknown key \"matchArg\" in a selector (did you mean \"matchArgs\"? expected one of: label, matchArgs, matchBinaries, matchActions, matchPIDs, matchData, matchReturnArgs, matchReturnActions, matchParentBinaries, matchNamespaces, matchNamespaceChanges, matchCapabilities, matchCapabilityChanges, matchWorkloads, macros)",
            "tp.yaml:21:27: error: matchArgs index 2 is not declared in the hook's args (Tetragon only matches captured arguments)",
            "tp.yaml:24:30: error: a second path filter in one selector (first at line 23): Tetragon ANDs them, palisade path matchers are alternatives; split the selector",
        ]
    );
}

#[test]
fn parent_directory_only_takes_prefix() {
    let src = tp("  kprobes:\n  - call: security_path_unlink\n    syscall: false\n    args: [{index: 0, type: path}]\n    selectors:\n    - matchArgs: [{index: 0, operator: Equal, values: [/etc]}]\n");
    assert_eq!(
        errors(&src),
        ["tp.yaml:11:40: error: operator \"Equal\" on the parent directory cannot be translated: palisade matches the full path of the file, and only a Prefix on its directory keeps its meaning (match the dentry argument instead) (supported: Prefix)"]
    );
}

#[test]
fn first_match_order_is_checked() {
    // An audit hook before a deny hook on the same operation would shadow the deny.
    let src = tp("  kprobes:\n  - call: security_file_open\n    syscall: false\n  - call: security_file_permission\n    syscall: false\n    selectors:\n    - matchActions: [{action: Sigkill}]\n");
    assert_eq!(
        errors(&src),
        ["tp.yaml:9:11: error: put this hook before the one at line 7: both cover read, Tetragon runs both while palisade takes the first matching rule, so the stronger action (deny-and-kill) must come first"]
    );
    // An exception followed by another selector on the same operation cannot be exact.
    let src = tp("  kprobes:\n  - call: security_file_open\n    syscall: false\n    args: [{index: 0, type: file}]\n    selectors:\n    - matchArgs: [{index: 0, operator: NotPrefix, values: [/etc/ssl/]}]\n      matchActions: [{action: Post}]\n    - matchArgs: [{index: 0, operator: Prefix, values: [/etc/ssl/]}]\n      matchActions: [{action: Post}]\n");
    let e = errors(&src);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0],
        "tp.yaml:11:40: error: this exception cannot be translated: it would become an allow rule for read, and palisade's first-match rules would let it hide the later rule \"file-open-s1\" (line 13); move this selector after the others or drop the Not* filter"
    );
}

#[test]
fn header_errors() {
    let e =
        errors("apiVersion: cilium.io/v1\nkind: TracingPolicyz\nmetadata: {name: T}\nspec: {}\n");
    assert_eq!(
        e,
        [
            "tp.yaml:1:13: error: unsupported Tetragon apiVersion \"cilium.io/v1\" (expected \"cilium.io/v1alpha1\")",
            "tp.yaml:2:7: error: unsupported kind \"TracingPolicyz\" (did you mean \"TracingPolicy\"? expected one of: TracingPolicy, TracingPolicyNamespaced)",
            "tp.yaml:3:18: error: metadata.name \"T\" contains 'T' (only a-z, 0-9 and '-' are allowed; use lower case)",
            "tp.yaml:4:7: error: no kprobes or lsmhooks: nothing to translate",
        ]
    );
}

#[test]
fn namespace_pids_translate() {
    let src = tp("  kprobes:\n  - call: security_path_unlink\n    syscall: false\n    args: [{index: 0, type: path}]\n    selectors:\n    - matchPIDs: [{operator: NotIn, isNamespacePID: true, values: [1]}]\n      matchArgs: [{index: 0, operator: Prefix, values: [/etc]}]\n      matchActions: [{action: Override, argError: -1}]\n");
    let p = import_tracing_policy_str(&src, "tp.yaml")
        .unwrap()
        .remove(0);
    let n = p.rules[0].ns_pids.as_ref().expect("nsPids");
    assert!(n.negate);
    assert_eq!(n.values, [1]);
    assert_eq!(p.rules[0].action, Action::Deny);
    // and back out as palisade YAML that parses to the same rule
    let yaml = super::render::to_yaml(&p);
    assert!(
        yaml.contains("nsPids: {operator: NotIn, values: [1]}"),
        "{yaml}"
    );
    let again = parse_documents_str(&yaml, "r.yaml").unwrap();
    assert_eq!(
        again.documents[0].policy.rules[0].ns_pids,
        p.rules[0].ns_pids
    );
}

#[test]
fn host_pids_forks_and_connect_hooks_are_refused() {
    let src = tp("  kprobes:\n  - call: security_file_open\n    syscall: false\n    selectors:\n    - matchPIDs: [{operator: In, isNamespacePID: false, values: [1]}]\n    - matchPIDs: [{operator: NotIn, isNamespacePID: true, followForks: true, values: [1]}]\n    - matchPIDs: [{operator: Equal, isNamespacePID: true, values: [1]}]\n    - matchPIDs: [{operator: In, isNamespacePID: true, values: [0, 1, 2, 3, 4]}]\n  - call: security_socket_connect\n    syscall: false\n    selectors:\n    - matchPIDs: [{operator: In, isNamespacePID: true, values: [1]}]\n");
    let e = errors(&src);
    let want = [
        "tp.yaml:10:50: error: matchPIDs with host pids cannot be translated",
        "tp.yaml:11:72: error: followForks cannot be translated",
        "tp.yaml:12:30: error: matchPIDs operator \"Equal\": expected In or NotIn",
        "tp.yaml:13:64: error: matchPIDs values: Tetragon takes 1 to 4 pids",
        "tp.yaml:17:19: error: matchPIDs on a connect hook cannot be translated",
    ];
    assert_eq!(e.len(), want.len(), "{e:#?}");
    for (got, want) in e.iter().zip(want) {
        assert!(
            got.starts_with(want),
            "{e:#?}\n  does not start with\n{want}"
        );
    }
}
