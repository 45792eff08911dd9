//! Helpers shared by the detection tests: demo builds, event selection, Tetragon's jq filters.

#![allow(dead_code)] // each test binary uses a subset

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

/// `integration/demos`.
pub fn demos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demos")
}

/// A world-readable scratch directory (demos run as `nobody` must reach their binaries).
pub fn scratch() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("palisade-detect-")
        .tempdir()
        .unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Compiles `demos/<name>.c` into `dir/<name>` with the system C compiler.
pub fn build(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let src = demos().join(format!("{name}.c"));
    let st = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("running cc (install gcc: install/build-deps.sh)");
    assert!(st.success(), "cc failed on {}", src.display());
    out
}

/// Compiles `demos/<name>.c` into a shared library `dir/lib<name>.so`.
pub fn build_lib(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(format!("lib{name}.so"));
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(demos().join(format!("{name}.c")))
        .status()
        .expect("running cc");
    assert!(st.success(), "cc -shared failed on {name}");
    out
}

/// `cmd` run as `nobody` (uid/gid 65534, no supplementary groups) through util-linux setpriv.
pub fn as_nobody(program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program);
    c
}

/// Runs a command, returning its output (stdout/stderr captured).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// `process_kprobe` events for `function` that satisfy `pred`.
pub fn kprobes<'a>(
    evs: &'a [Value],
    function: &str,
    pred: impl Fn(&Value) -> bool,
) -> Vec<&'a Value> {
    evs.iter()
        .filter_map(|e| e.get("process_kprobe"))
        .filter(|k| k["function_name"] == function && pred(k))
        .collect()
}

/// Runs a jq filter (verbatim from Tetragon's policy-library documentation) over the export
/// file; returns its output lines.
pub fn jq(filter: &str, events: &Path) -> Vec<String> {
    let out = Command::new("jq")
        .arg(filter)
        .arg(events)
        .output()
        .expect("running jq (install it: install/build-deps.sh)");
    assert!(
        out.status.success(),
        "jq failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The line of `lines` containing every one of `needles`, or a panic showing them all.
pub fn line_with<'a>(lines: &'a [String], needles: &[&str]) -> &'a str {
    lines
        .iter()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| {
            panic!(
                "no jq output line contains {needles:?}; output:\n{}",
                lines.join("\n")
            )
        })
}
