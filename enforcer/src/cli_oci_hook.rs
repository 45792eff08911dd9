//! `palisade oci-hook`: an OCI runtime hook (CRI-O, podman `hooks.d`) that registers the
//! container's cgroup with the agent and returns only once the kernel maps are written, so the
//! container's first instruction already runs under its policies.
//!
//! Fail closed by default: if the agent cannot be reached in time, or refuses, the hook exits
//! non-zero and the runtime does not start the container.

use std::{io::Read, path::Path, time::Duration};

use anyhow::{bail, Context, Result};
use palisade_nri::{parse_oci_state, MODE_ANNOTATION, POLICIES_ANNOTATION};

use crate::api;

/// `palisade oci-hook` flags.
#[derive(clap::Args, Debug)]
pub struct OciHookArgs {
    /// Start the container anyway when the agent is unreachable (default: refuse it).
    #[arg(long)]
    fail_open: bool,
    /// How long to wait for the agent, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    timeout: u64,
    /// Hook stage (informational; createRuntime or prestart carry the host pid).
    #[arg(default_value = "createRuntime")]
    stage: String,
}

/// cgroup2 directory of `pid`, from /proc.
fn cgroup_of(pid: u32) -> Result<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("reading /proc/{pid}/cgroup"))?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .with_context(|| format!("process {pid} has no cgroup v2 membership"))?;
    let root = crate::kernel::cgroup_layout()
        .context("cgroup2 is not mounted")?
        .cgroup2_root;
    Ok(Path::new(&root).join(rel.trim_start_matches('/')))
}

fn first(a: &std::collections::BTreeMap<String, String>, keys: &[&str]) -> String {
    keys.iter()
        .find_map(|k| a.get(*k))
        .cloned()
        .unwrap_or_default()
}

/// Name and image of a podman/CRI-O container from containers/storage's `containers.json`,
/// which sits two directories above the bundle (`.../overlay-containers/<id>/userdata`):
/// podman 4.3 puts neither in the OCI state's annotations.
fn storage_identity(bundle: &Path, id: &str) -> Option<(String, String)> {
    let json = std::fs::read(bundle.parent()?.parent()?.join("containers.json")).ok()?;
    let all: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let c = all.as_array()?.iter().find(|c| c["id"] == id)?;
    let name = c["names"]
        .get(0)
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_owned();
    let meta: serde_json::Value = c["metadata"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let image = meta["image-name"].as_str().unwrap_or_default().to_owned();
    Some((name, image))
}

async fn register(socket: &Path, state: palisade_nri::OciState) -> Result<String> {
    let pid = state
        .pid
        .context("OCI state has no pid: run the hook at createRuntime or prestart")?;
    let a = &state.annotations;
    let policies: Vec<String> = a
        .get(POLICIES_ANNOTATION)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut name = first(
        a,
        &[
            "io.kubernetes.container.name",
            "io.kubernetes.cri-o.ContainerName",
            "io.podman.annotations.name",
        ],
    );
    let mut image = first(
        a,
        &[
            "io.kubernetes.cri-o.ImageName",
            "io.podman.annotations.image",
        ],
    );
    if name.is_empty() || image.is_empty() {
        if let Some((n, i)) = storage_identity(&state.bundle, &state.id) {
            if name.is_empty() {
                name = n;
            }
            if image.is_empty() {
                image = i;
            }
        }
    }
    let req = api::pb::RegisterCgroupRequest {
        cgroup_path: cgroup_of(pid)?.display().to_string(),
        policies,
        mode: a.get(MODE_ANNOTATION).cloned().unwrap_or_default(),
        container_id: state.id.clone(),
        container_name: name,
        pod_name: first(
            a,
            &["io.kubernetes.pod.name", "io.kubernetes.cri-o.SandboxName"],
        ),
        pod_namespace: first(
            a,
            &[
                "io.kubernetes.pod.namespace",
                "io.kubernetes.cri-o.Namespace",
            ],
        ),
        image,
        annotations: a.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        init_pid: pid,
    };
    let mut c = api::client::connect(socket).await?;
    match c.register_cgroup(req).await {
        Ok(r) => Ok(r.into_inner().json),
        Err(s) => bail!("agent refused container {}: {}", state.id, s.message()),
    }
}

/// Runs the hook; exit code 0 lets the runtime proceed.
pub async fn run(socket: &Path, a: OciHookArgs) -> Result<i32> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading OCI state from stdin")?;
    // malformed state is always fatal: there is nothing to register
    let state = parse_oci_state(&input)
        .map_err(|e| anyhow::anyhow!("palisade oci-hook ({}): {e}", a.stage))?;
    let id = state.id.clone();
    match tokio::time::timeout(Duration::from_secs(a.timeout), register(socket, state)).await {
        Ok(Ok(reply)) => {
            tracing::debug!(container = %id, %reply, "registered");
            Ok(0)
        }
        Ok(Err(e)) if a.fail_open && is_unreachable(&e) => {
            eprintln!(
                "palisade oci-hook: {e:#}; starting container {id} UNPROTECTED (--fail-open)"
            );
            Ok(0)
        }
        Ok(Err(e)) => {
            eprintln!("palisade oci-hook: {e:#}; refusing container {id}");
            Ok(1)
        }
        Err(_) if a.fail_open => {
            eprintln!("palisade oci-hook: agent did not answer in {} s; starting container {id} UNPROTECTED (--fail-open)", a.timeout);
            Ok(0)
        }
        Err(_) => {
            eprintln!(
                "palisade oci-hook: agent did not answer in {} s; refusing container {id}",
                a.timeout
            );
            Ok(1)
        }
    }
}

/// Fail-open covers an absent agent only; an agent that answers "no" is always obeyed.
fn is_unreachable(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("connecting to the palisade agent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_identity_from_containers_json() {
        let root = tempfile::tempdir().unwrap();
        let bundle = root.path().join("overlay-containers/abc/userdata");
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(
            root.path().join("overlay-containers/containers.json"),
            r#"[{"id":"zzz","names":["other"]},{"id":"abc","names":["web"],"metadata":"{\"image-name\":\"localhost/busybox:local\",\"name\":\"web\"}"}]"#,
        )
        .unwrap();
        assert_eq!(
            storage_identity(&bundle, "abc"),
            Some(("web".to_owned(), "localhost/busybox:local".to_owned()))
        );
        assert_eq!(storage_identity(&bundle, "nope"), None);
        assert_eq!(storage_identity(Path::new("/"), "abc"), None);
    }
}
