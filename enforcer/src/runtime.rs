//! The agent's side of the container runtime integration: NRI lifecycle events (and OCI hook
//! registrations) become container metadata for events and, when policies are bound, kernel map
//! entries — all before the runtime is answered, so the entrypoint's first instruction runs
//! already identified.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use palisade_nri::{
    cgroup_dir, cgroup_id, policy_binding, ContainerHandler, ContainerInfo, Mode, PodInfo,
};

use crate::{
    agent::Shared,
    containers::ContainerMeta,
    events::model::{Container, Image, Pod},
    guard::Kind,
};

/// Identity of a container to register, from NRI or from an OCI hook.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// cgroup v2 directory.
    pub cgroup_dir: PathBuf,
    /// Runtime container id.
    pub id: String,
    /// Runtime name prefix for `container.id` (`containerd`, `cri-o`, `podman`).
    pub runtime: String,
    /// Container name.
    pub name: String,
    /// Pod name and namespace (empty outside Kubernetes).
    pub pod_name: String,
    /// Pod namespace.
    pub pod_namespace: String,
    /// Pod uid.
    pub pod_uid: String,
    /// Pod labels.
    pub pod_labels: BTreeMap<String, String>,
    /// Image reference.
    pub image: String,
    /// Policy names bound to the container.
    pub policies: Vec<String>,
    /// `enforce` or `audit`.
    pub mode: String,
    /// Runtime setup process (runc init) still to set up mounts before it execs the entrypoint.
    pub setup_pid: Option<u32>,
}

/// Registers a container: resolves its cgroup id and records its metadata. Errors are
/// user-facing (they are what containerd reports when it refuses the start).
pub fn register(shared: &Shared, r: Registration) -> Result<u64, String> {
    let id = cgroup_id(&r.cgroup_dir).map_err(|e| {
        format!(
            "palisade: container {}: cgroup {}: {e}",
            r.id,
            r.cgroup_dir.display()
        )
    })?;
    if let (Some(pid), false) = (r.setup_pid, r.policies.is_empty()) {
        shared
            .engine()
            .and_then(|e| {
                e.enforcer()
                    .exempt_setup_until_exec(pid)
                    .map_err(|e| format!("{e:#}"))
            })
            .map_err(|e| format!("palisade: container {}: {e}", r.id))?;
    }
    if r.id.is_empty() && r.name.is_empty() {
        // a bare cgroup (e.g. a process tree placed under a policy): enforcement only
        if !r.policies.is_empty() {
            shared
                .engine()
                .and_then(|e| {
                    e.bind(id, &r.policies, r.mode == "audit")
                        .map_err(|e| format!("{e:#}"))
                })
                .map_err(|e| format!("palisade: cgroup {}: {e}", r.cgroup_dir.display()))?;
        }
        return Ok(id);
    }
    let key = if r.id.is_empty() {
        format!("cgroup:{id}")
    } else {
        r.id.clone()
    };
    let meta = ContainerMeta {
        cgroup_id: id,
        id: key.clone(),
        pod: Pod {
            namespace: r.pod_namespace,
            name: r.pod_name,
            uid: r.pod_uid,
            container: Container {
                id: if r.runtime.is_empty() {
                    key.clone()
                } else {
                    format!("{}://{}", r.runtime, key)
                },
                name: r.name,
                image: Image {
                    id: String::new(),
                    name: r.image,
                },
                start_time: None,
            },
            pod_labels: r.pod_labels,
        },
        policies: r.policies,
        mode: r.mode,
    };
    shared
        .bind_container(meta)
        .map_err(|e| format!("palisade: container {key}: {e}"))?;
    Ok(id)
}

/// NRI handler of the agent.
pub struct NriHandler {
    shared: Arc<Shared>,
    cgroup2_root: PathBuf,
    /// Sandboxes from the current Synchronize, for the fail-closed guard.
    sync_pods: std::sync::Mutex<Vec<(String, PathBuf, u64, Kind)>>,
}

impl NriHandler {
    /// A handler resolving cgroups under `cgroup2_root`.
    pub fn new(shared: Arc<Shared>, cgroup2_root: &Path) -> Self {
        Self {
            shared,
            cgroup2_root: cgroup2_root.to_owned(),
            sync_pods: Default::default(),
        }
    }

    /// A sandbox's cgroup: its OCI cgroupsPath, else its pause process's cgroup.
    fn sandbox_cgroup(&self, pod: &PodInfo) -> Option<(PathBuf, u64)> {
        let dir = if !pod.cgroups_path.is_empty() {
            cgroup_dir(&pod.cgroups_path, &self.cgroup2_root)
        } else if pod.pid != 0 {
            let text = std::fs::read_to_string(format!("/proc/{}/cgroup", pod.pid)).ok()?;
            let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
            self.cgroup2_root.join(rel.trim_start_matches('/'))
        } else {
            return None;
        };
        let id = cgroup_id(&dir).ok()?;
        Some((dir, id))
    }

    fn registration(&self, c: &ContainerInfo) -> Result<Registration, String> {
        let binding =
            policy_binding(c).map_err(|e| format!("palisade: container {}: {e}", c.name))?;
        Ok(Registration {
            cgroup_dir: cgroup_dir(&c.cgroups_path, &self.cgroup2_root),
            id: c.id.clone(),
            runtime: "containerd".into(),
            name: c.name.clone(),
            pod_name: c.pod_name.clone(),
            pod_namespace: c.pod_namespace.clone(),
            pod_uid: c.pod_uid.clone(),
            pod_labels: c.pod_labels.clone(),
            image: c.image.clone(),
            policies: binding.policies,
            mode: match binding.mode {
                Mode::Enforce => "enforce",
                Mode::Audit => "audit",
            }
            .into(),
            setup_pid: None,
        })
    }
}

#[palisade_nri::async_trait]
impl ContainerHandler for NriHandler {
    async fn start_container(&self, c: &ContainerInfo) -> Result<(), String> {
        let t0 = Instant::now();
        let res = self.registration(c).and_then(|r| {
            let dir = r.cgroup_dir.clone();
            let cg = register(&self.shared, r)?;
            // known to the fail-closed guard before the entrypoint may exec
            if let Some(g) = self.shared.guard.get() {
                g.mark(&c.id, &dir, cg, Kind::Container);
            }
            Ok(cg)
        });
        self.shared.metrics.nri_handler(t0.elapsed());
        match res {
            Ok(cg) => {
                tracing::info!(container = %c.name, pod = %c.pod_name, cgroup_id = cg, "container registered");
                Ok(())
            }
            Err(e) => {
                tracing::warn!("refusing container start: {e}");
                Err(e)
            }
        }
    }

    async fn remove_container(&self, id: &str) {
        self.shared.unbind_container(id);
        if let Some(g) = self.shared.guard.get() {
            g.forget(id);
        }
    }

    async fn run_pod_sandbox(&self, pod: &PodInfo) -> Result<(), String> {
        if let Some(g) = self.shared.guard.get() {
            match self.sandbox_cgroup(pod) {
                Some((dir, id)) => g.mark(&format!("pod:{}", pod.id), &dir, id, Kind::Sandbox),
                None => {
                    tracing::warn!(pod = %pod.name, "sandbox cgroup not found (cgroupsPath {:?}, pid {}): not known to the fail-closed guard", pod.cgroups_path, pod.pid)
                }
            }
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, pod: &PodInfo) {
        if let Some(g) = self.shared.guard.get() {
            g.forget(&format!("pod:{}", pod.id));
        }
    }

    async fn synchronize_pods(&self, pods: &[PodInfo]) {
        let found = pods
            .iter()
            .filter_map(|p| {
                let (dir, id) = self.sandbox_cgroup(p)?;
                Some((format!("pod:{}", p.id), dir, id, Kind::Sandbox))
            })
            .collect();
        *self.sync_pods.lock().unwrap_or_else(|e| e.into_inner()) = found;
    }

    async fn synchronize(&self, containers: &[ContainerInfo]) {
        // After a (re)connect this list is authoritative: forget containers removed meanwhile,
        // (re)register the running ones. A bad binding cannot refuse an already running
        // container; it is logged loudly instead.
        let ids: std::collections::HashSet<&str> =
            containers.iter().map(|c| c.id.as_str()).collect();
        for old in self.shared.containers.all() {
            if !ids.contains(old.id.as_str()) {
                self.shared.unbind_container(&old.id);
            }
        }
        let mut known =
            std::mem::take(&mut *self.sync_pods.lock().unwrap_or_else(|e| e.into_inner()));
        for c in containers.iter().filter(|c| c.pid != 0) {
            let res = self.registration(c).and_then(|r| {
                let dir = r.cgroup_dir.clone();
                Ok((dir, register(&self.shared, r)?))
            });
            match res {
                Ok((dir, cg)) => known.push((c.id.clone(), dir, cg, Kind::Container)),
                Err(e) => {
                    tracing::error!("running container {} could not be registered: {e}", c.name)
                }
            }
        }
        if let Some(g) = self.shared.guard.get() {
            g.sync(&known);
        }
        tracing::info!(
            containers = containers.len(),
            "synchronized with the runtime"
        );
    }

    fn connection_changed(&self, state: palisade_nri::ConnectionState) {
        tracing::info!(?state, "NRI connection");
        self.shared.set_nri_state(state);
        // Registered comes after Synchronize: every running container is known again
        if let Some(g) = self.shared.guard.get() {
            g.set_active(state != palisade_nri::ConnectionState::Registered);
        }
    }
}
