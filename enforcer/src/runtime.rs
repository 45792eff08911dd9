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

use palisade_nri::{cgroup_dir, cgroup_id, policy_binding, ContainerHandler, ContainerInfo, Mode};

use crate::{
    agent::Shared,
    containers::ContainerMeta,
    events::model::{Container, Image, Pod},
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
}

impl NriHandler {
    /// A handler resolving cgroups under `cgroup2_root`.
    pub fn new(shared: Arc<Shared>, cgroup2_root: &Path) -> Self {
        Self {
            shared,
            cgroup2_root: cgroup2_root.to_owned(),
        }
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
        let res = self.registration(c).and_then(|r| register(&self.shared, r));
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
        for c in containers.iter().filter(|c| c.pid != 0) {
            if let Err(e) = self.registration(c).and_then(|r| register(&self.shared, r)) {
                tracing::error!("running container {} could not be registered: {e}", c.name);
            }
        }
        tracing::info!(
            containers = containers.len(),
            "synchronized with the runtime"
        );
    }

    fn connection_changed(&self, state: palisade_nri::ConnectionState) {
        tracing::info!(?state, "NRI connection");
        self.shared.set_nri_state(state);
    }
}
