//! Running kernel-lab scripts from cargo tests and reading what their guests report.
//!
//! The lab scripts (integration/lab*/ run scripts) print one row per check (`NAME PASS|FAIL
//! DETAIL`), `EVENT NAME JSON` lines with the exported events the check looked at, and exit 2
//! when a prerequisite is missing (naming the command that installs it).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

/// What a lab script reported.
pub struct LabRun {
    /// The script exited 0.
    pub ok: bool,
    /// Rows named in the expected list: PASS?, and the rest of the line.
    pub rows: HashMap<String, (bool, String)>,
    /// `EVENT NAME JSON` lines, by name.
    pub events: HashMap<String, Value>,
    /// stdout and stderr, for failure messages.
    pub output: String,
}

impl LabRun {
    /// One message per expected row that is missing or FAILed.
    pub fn row_problems(&self, expected: &[&str]) -> Vec<String> {
        expected
            .iter()
            .filter_map(|name| match self.rows.get(*name) {
                Some((true, _)) => None,
                Some((false, detail)) => Some(format!("{name} FAILED {detail}")),
                None => Some(format!("{name}: not reported")),
            })
            .collect()
    }
}

/// Runs `cmd` (a lab script) and parses its report; panics (failing the test, never skipping)
/// when it says a prerequisite is missing. `rows` are the check names to collect.
pub fn run(mut cmd: Command, rows: &[&str]) -> LabRun {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(
        out.status.code(),
        Some(2),
        "prerequisites missing for {cmd:?} (it names the command to run):\n{stderr}"
    );
    let mut found = HashMap::new();
    let mut events = HashMap::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("EVENT ") {
            let (name, json) = rest.split_once(' ').expect("EVENT NAME JSON");
            let v: Value = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("EVENT {name} is not JSON ({e}): {json}"));
            events.insert(name.to_owned(), v);
            continue;
        }
        let mut words = line.split_whitespace();
        if let (Some(name), Some(verdict)) = (words.next(), words.next()) {
            if rows.contains(&name) && (verdict == "PASS" || verdict == "FAIL") {
                found.insert(
                    name.to_owned(),
                    (verdict == "PASS", words.collect::<Vec<_>>().join(" ")),
                );
            }
        }
    }
    LabRun {
        ok: out.status.success(),
        rows: found,
        events,
        output: format!("{stdout}\n--- stderr\n{stderr}"),
    }
}

/// `bash integration/<script>` as a command.
pub fn script(relative: &str) -> Command {
    let mut c = Command::new("bash");
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative));
    c
}

/// The release `palisade` the lab copies into its guests (kernel-lab.sh takes
/// `$CARGO_TARGET_DIR/release/palisade`, else target/release/palisade); panics naming the build
/// command when it is missing.
pub fn release_palisade() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let release = std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| root.join("target"))
        .join("release/palisade");
    assert!(
        release.exists(),
        "{} is missing: run `cargo build --release -p palisade` first",
        release.display()
    );
    release
}

/// Boots `kernel` in the lab with `files` as /lab, `extra` kernel-lab.sh arguments (`--bin`
/// ...), runs the guest shell script `guest` and returns its stdout; panics with the whole output
/// unless the guest exited 0.
pub fn guest(kernel: &str, files: &Path, extra: &[String], guest: &str) -> String {
    release_palisade();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-lab.sh");
    let out = Command::new(&script)
        .args(["--kernel", kernel, "--files"])
        .arg(files)
        .args(extra)
        .args(["--", guest])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kernel lab {kernel} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
