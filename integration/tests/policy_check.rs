//! `palisade policy check` end to end: the real binary on the policy library, on a file full of
//! mistakes, in JSON, and on a Tetragon TracingPolicy. Needs no privileges and loads nothing.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use palisade_integration::agent::palisade_bin;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(args: &[&str]) -> Output {
    let out = Command::new(palisade_bin().unwrap())
        .current_dir(repo())
        .args(["policy", "check"])
        .args(args)
        .output()
        .expect("running palisade policy check");
    eprintln!(
        "palisade policy check {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn yaml_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                yaml_files(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "yaml"))
            }
        })
        .sum()
}

#[test]
fn the_library_checks_clean() {
    let out = check(&["policies"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let oks: Vec<&str> = stdout.lines().filter(|l| l.contains(": ok: ")).collect();
    assert_eq!(
        oks.len(),
        yaml_files(&repo().join("policies")),
        "one ok line per library file"
    );
    assert!(
        stdout.contains("policies/protect-etc.yaml: ok: protect-etc (palisade, enforce, 1 rule)")
    );
    assert!(stdout.contains(
        "policies/readonly-root.yaml: ok: readonly-root (palisade, enforce, default deny, 1 rule)"
    ));
}

#[test]
fn every_error_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: palisade.dev/v1alpha1\n\
         kind: Policy\n\
         metadata:\n  name: Bad_Name\n\
         spec:\n  rulez: []\n  rules:\n\
         \x20   - name: r\n      operations: [read, wrte]\n      paths: {prefix: [etc/]}\n      action: deny\n\
         \x20   - name: r\n      operations: [connect]\n      destinations: [10.0.0.1/8]\n      action: deny\n",
    )
    .unwrap();
    let shown = bad.display().to_string();
    let out = check(&[&shown]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = [
        format!("{shown}:4:9: error: metadata.name \"Bad_Name\" contains 'B' (only a-z, 0-9 and '-' are allowed; use lower case)"),
        format!("{shown}:6:3: error: unknown key \"rulez\" in spec (did you mean \"rules\"? expected one of: mode, defaultAction, selector, rules)"),
        format!("{shown}:9:26: error: unknown operation \"wrte\" (did you mean \"write\"? expected one of: read, write, create, unlink, rename, link, symlink, truncate, chmod, chown, setxattr, mkdir, rmdir, exec, mmap-exec, connect)"),
        format!("{shown}:10:24: error: paths.prefix: \"etc/\" is not an absolute path (did you mean \"/etc/\"?)"),
        format!("{shown}:12:13: error: duplicate rule name \"r\" (first at line 8)"),
        format!("{shown}:14:22: error: destination \"10.0.0.1/8\": has host bits set (did you mean \"10.0.0.0/8\"?)"),
        format!("{shown}: 6 errors"),
    ];
    let got: Vec<&str> = stderr.lines().collect();
    assert_eq!(got, expected);
    assert!(out.stdout.is_empty(), "nothing is reported ok");
}

#[test]
fn json_output_and_a_mix_of_good_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata: {name: x}\nspec: {rules: [{operations: [exec], action: dney}]}\n").unwrap();
    let out = check(&["--json", "policies/protect-etc.yaml", bad.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one bad file fails the whole check"
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["ok"], true);
    let p = &lines[0]["policies"][0];
    assert_eq!(p["name"], "protect-etc");
    assert_eq!(p["rules"][0]["action"], "deny");
    assert_eq!(p["demo"]["event"]["rule"], "etc-immutable");
    assert_eq!(lines[1]["ok"], false);
    let e = &lines[1]["errors"][0];
    assert_eq!((e["line"].as_u64(), e["col"].as_u64()), (Some(4), Some(45)));
    assert_eq!(e["severity"], "error");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("unknown action \"dney\" (did you mean \"deny\"?"));
}

#[test]
fn tetragon_policies_are_checked_and_their_translation_shown() {
    let out = check(&["policies/tetragon/file-monitoring-enforce.yaml"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("ok: file-monitoring-filtered (imported from Tetragon, enforce, 7 rules)")
    );
    assert!(stdout.contains("    - name: path-unlink-s0\n      operations: [unlink]\n"));
    assert!(stdout.contains("      action: deny-and-kill\n"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(
        "file-monitoring-enforce.yaml:72:144: warning: Prefix \".bashrc\" is not an absolute path"
    ));

    let dir = tempfile::tempdir().unwrap();
    let tp = dir.path().join("tp.yaml");
    std::fs::write(
        &tp,
        "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: t}\nspec:\n  kprobes:\n  - call: security_file_open\n    syscall: false\n    selectors:\n    - matchPIDs: [{operator: NotIn, values: [1]}]\n",
    )
    .unwrap();
    let out = check(&[tp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "{}:9:19: error: matchPIDs without isNamespacePID: true cannot be translated",
            tp.display()
        )),
        "{stderr}"
    );
}
