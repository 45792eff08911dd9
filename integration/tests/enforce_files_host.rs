//! File enforcement on this host, with whatever mechanism the ladder picks here, and the
//! decision must say honestly what happened: with BPF LSM or fmod_ret the unlink is denied and
//! the file stays; with the tracepoint fallback (the dev/CI hosts, where trampolines are
//! refused) the caller is killed, the file is gone, and the record says `prevented: false`.
//! The lab (integration/lab) proves the inline mechanisms on real kernels. Needs root.

use std::process::Command;

use anyhow::{Context, Result};
use palisade_integration::agent::{palisade_bin, require_root};
use serde_json::Value;

#[test]
fn unlink_decision_reports_the_mechanism_and_whether_it_prevented() -> Result<()> {
    require_root();
    let dir = tempfile::tempdir()?;
    let target = dir.path().join("protected");
    std::fs::write(&target, "keep me")?;
    let policy = dir.path().join("p.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: host-files\n  description: test\nspec:\n  rules:\n    - name: keep\n      operations: [unlink]\n      paths: {{prefix: [\"{}/\"]}}\n      action: deny\n",
            dir.path().display()
        ),
    )?;
    let events = dir.path().join("events.json");
    let out = Command::new(palisade_bin()?)
        .args(["run", "--policy"])
        .arg(&policy)
        .arg("--events")
        .arg(&events)
        .args(["--", "rm", "-f"])
        .arg(&target)
        .output()
        .context("running palisade run")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let decisions: Vec<Value> = std::fs::read_to_string(&events)?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let d = decisions
        .iter()
        .find(|d| d["operation"] == "unlink")
        .unwrap_or_else(|| panic!("no unlink decision; stderr:\n{stderr}"));
    assert_eq!(d["policy"], "host-files");
    assert_eq!(d["rule"], "keep");
    assert_eq!(d["path"], target.display().to_string());
    match d["mechanism"].as_str() {
        Some("bpf_lsm" | "fmod_ret") => {
            assert_eq!(d["prevented"], true);
            assert!(target.exists(), "denied inline, yet the file is gone");
            assert_ne!(out.status.code(), Some(0));
        }
        Some("tracepoint_sigkill") => {
            assert_eq!(d["prevented"], false, "a tracepoint cannot prevent: {d}");
            assert_eq!(d["killed"], true);
            assert_eq!(out.status.code(), Some(137), "rm must be killed");
            assert!(
                !target.exists(),
                "the record says not prevented; the file should be gone"
            );
            assert!(
                stderr.contains("NOT prevented"),
                "the fallback must be reported loudly:\n{stderr}"
            );
        }
        other => panic!("unexpected mechanism {other:?} in {d}"),
    }
    Ok(())
}
