//! Runtime-agnostic view of pods and containers handed to the agent, and the handler trait the
//! agent implements.

use std::collections::{BTreeMap, HashMap};

use crate::api;

/// Annotation keys under which runtimes record the image a container was created from
/// (NRI 0.6.1's `Container` has no image field). containerd's CRI first, then CRI-O's.
const IMAGE_ANNOTATIONS: [&str; 2] = [
    "io.kubernetes.cri.image-name",
    "io.kubernetes.cri-o.ImageName",
];
/// containerd CRI annotations naming the sandbox, used when a container arrives without its pod.
const SANDBOX_NAME: &str = "io.kubernetes.cri.sandbox-name";
const SANDBOX_NAMESPACE: &str = "io.kubernetes.cri.sandbox-namespace";
const SANDBOX_UID: &str = "io.kubernetes.cri.sandbox-uid";

/// Lifecycle state as reported by the runtime at the time of the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    Unknown,
    Created,
    Paused,
    Running,
    Stopped,
}

impl From<i32> for ContainerState {
    fn from(v: i32) -> Self {
        match api::ContainerState::try_from(v) {
            Ok(api::ContainerState::Created) => ContainerState::Created,
            Ok(api::ContainerState::Paused) => ContainerState::Paused,
            Ok(api::ContainerState::Running) => ContainerState::Running,
            Ok(api::ContainerState::Stopped) => ContainerState::Stopped,
            Ok(api::ContainerState::Unknown) | Err(_) => ContainerState::Unknown,
        }
    }
}

/// A pod sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodInfo {
    pub id: String,
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `LinuxPodSandbox.cgroup_parent` as given by the orchestrator (may be empty).
    pub cgroup_parent: String,
    /// The pause container's OCI `cgroupsPath`.
    pub cgroups_path: String,
    /// Host pid of the sandbox (pause) process, 0 if unknown.
    pub pid: u32,
}

/// A container with the identity of its pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub pod_id: String,
    pub pod_name: String,
    pub pod_namespace: String,
    pub pod_uid: String,
    /// Container labels (containerd adds its own, e.g. `io.cri-containerd.kind`).
    pub labels: BTreeMap<String, String>,
    pub pod_labels: BTreeMap<String, String>,
    /// Pod annotations overlaid with the container's: for a key present on both, the
    /// container's value wins. This is what [`crate::policy_binding`] reads.
    pub annotations: BTreeMap<String, String>,
    /// The pod's own annotations, unmerged.
    pub pod_annotations: BTreeMap<String, String>,
    /// Image reference the container was created from, empty if the runtime did not say.
    pub image: String,
    /// OCI `linux.cgroupsPath` (plain path or systemd `slice:prefix:name`); see [`crate::cgroup_dir`].
    pub cgroups_path: String,
    /// Host pid of the container's init process. At StartContainer it exists, sits in the
    /// container cgroup and has not exec'd the entrypoint yet; 0 when no task exists.
    pub pid: u32,
    pub state: ContainerState,
    pub args: Vec<String>,
}

fn sorted(m: &HashMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl From<&api::PodSandbox> for PodInfo {
    fn from(p: &api::PodSandbox) -> Self {
        let linux = p.linux.clone().unwrap_or_default();
        PodInfo {
            id: p.id.clone(),
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            uid: p.uid.clone(),
            labels: sorted(&p.labels),
            annotations: sorted(&p.annotations),
            cgroup_parent: linux.cgroup_parent,
            cgroups_path: linux.cgroups_path,
            pid: p.pid,
        }
    }
}

impl ContainerInfo {
    /// Joins an NRI container with its pod. Without the pod (or with fields it leaves empty),
    /// the identity falls back to the sandbox annotations containerd puts on every container.
    /// Public for the fuzz targets, which run what the session derives from NRI messages.
    pub fn from_nri(pod: Option<&api::PodSandbox>, c: &api::Container) -> Self {
        let pod = pod.map(PodInfo::from).unwrap_or_default();
        let container_annotations = sorted(&c.annotations);
        let or_annotation = |v: &str, key: &str| {
            if v.is_empty() {
                container_annotations.get(key).cloned().unwrap_or_default()
            } else {
                v.to_owned()
            }
        };
        let image = IMAGE_ANNOTATIONS
            .iter()
            .find_map(|k| container_annotations.get(*k))
            .cloned()
            .unwrap_or_default();
        let mut annotations = pod.annotations.clone();
        annotations.extend(container_annotations.clone());
        ContainerInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            pod_id: if c.pod_sandbox_id.is_empty() {
                pod.id.clone()
            } else {
                c.pod_sandbox_id.clone()
            },
            pod_name: or_annotation(&pod.name, SANDBOX_NAME),
            pod_namespace: or_annotation(&pod.namespace, SANDBOX_NAMESPACE),
            pod_uid: or_annotation(&pod.uid, SANDBOX_UID),
            labels: sorted(&c.labels),
            pod_labels: pod.labels,
            annotations,
            pod_annotations: pod.annotations,
            image,
            cgroups_path: c
                .linux
                .as_ref()
                .map(|l| l.cgroups_path.clone())
                .unwrap_or_default(),
            pid: c.pid,
            state: ContainerState::from(c.state),
            args: c.args.clone(),
        }
    }
}

/// Whether the plugin is currently registered with the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Registered and synchronized: events flow from now on.
    Registered,
    /// Connection lost (runtime stopped or restarted); events are not seen until re-registered.
    Disconnected,
}

/// What the agent does on container lifecycle events. Calls are made one at a time in the
/// runtime's order (containerd serializes NRI events node-wide), and the runtime waits for each:
/// keep them short, the runtime's per-call timeout (containerd default 2 s) drops the plugin.
#[async_trait::async_trait]
pub trait ContainerHandler: Send + Sync {
    /// Called at NRI StartContainer, before the runtime lets the entrypoint run: the init
    /// process exists in its cgroup, blocked before exec. The plugin replies to the runtime only
    /// after this returns. `Err` refuses the start: containerd fails the CRI StartContainer with
    /// the message and deletes the task (fail closed).
    async fn start_container(&self, c: &ContainerInfo) -> Result<(), String>;

    /// Called at NRI RemoveContainer (the cgroup is gone by then).
    async fn remove_container(&self, id: &str);

    /// Called once per registration with every container the runtime knows (running ones have
    /// a pid). Runs before any other event of that registration; after a reconnect it is the
    /// authoritative list (containers missing from it were removed while disconnected).
    async fn synchronize(&self, containers: &[ContainerInfo]);

    /// Called at Synchronize, just before [`Self::synchronize`], with every pod sandbox the
    /// runtime knows.
    async fn synchronize_pods(&self, _pods: &[PodInfo]) {}

    /// Called when a container stopped (after the fact; its processes are gone).
    async fn stop_container(&self, _c: &ContainerInfo) {}

    /// Called at RunPodSandbox, after the sandbox task was created. `Err` fails the pod.
    async fn run_pod_sandbox(&self, _pod: &PodInfo) -> Result<(), String> {
        Ok(())
    }

    /// Called at StopPodSandbox.
    async fn stop_pod_sandbox(&self, _pod: &PodInfo) {}

    /// Called at RemovePodSandbox.
    async fn remove_pod_sandbox(&self, _pod: &PodInfo) {}

    /// Registration gained or lost.
    fn connection_changed(&self, _state: ConnectionState) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn merges_pod_and_container_with_container_winning() {
        let pod = api::PodSandbox {
            id: "p1".into(),
            name: "web".into(),
            namespace: "prod".into(),
            uid: "u-1".into(),
            labels: map(&[("app", "web")]),
            annotations: map(&[
                ("palisade.dev/policies", "pod-pol"),
                ("palisade.dev/mode", "audit"),
            ]),
            ..Default::default()
        };
        let c = api::Container {
            id: "c1".into(),
            pod_sandbox_id: "p1".into(),
            name: "nginx".into(),
            state: 1,
            annotations: map(&[
                ("palisade.dev/policies", "ctr-pol"),
                ("io.kubernetes.cri.image-name", "localhost/busybox:local"),
            ]),
            linux: Some(api::LinuxContainer {
                cgroups_path: "/k8s.io/c1".into(),
            }),
            pid: 77,
            ..Default::default()
        };
        let info = ContainerInfo::from_nri(Some(&pod), &c);
        assert_eq!(info.pod_name, "web");
        assert_eq!(info.pod_namespace, "prod");
        assert_eq!(info.pod_uid, "u-1");
        assert_eq!(info.image, "localhost/busybox:local");
        assert_eq!(info.cgroups_path, "/k8s.io/c1");
        assert_eq!(info.pid, 77);
        assert_eq!(info.state, ContainerState::Created);
        assert_eq!(info.annotations["palisade.dev/policies"], "ctr-pol");
        assert_eq!(info.annotations["palisade.dev/mode"], "audit");
        assert_eq!(info.pod_annotations["palisade.dev/policies"], "pod-pol");
        assert_eq!(info.pod_labels["app"], "web");
    }

    #[test]
    fn identity_falls_back_to_sandbox_annotations_without_pod() {
        let c = api::Container {
            id: "c2".into(),
            annotations: map(&[
                (SANDBOX_NAME, "db"),
                (SANDBOX_NAMESPACE, "ns"),
                (SANDBOX_UID, "u-2"),
                ("io.kubernetes.cri.sandbox-id", "p2"),
            ]),
            state: 99,
            ..Default::default()
        };
        let info = ContainerInfo::from_nri(None, &c);
        assert_eq!(
            (
                info.pod_name.as_str(),
                info.pod_namespace.as_str(),
                info.pod_uid.as_str()
            ),
            ("db", "ns", "u-2")
        );
        assert_eq!(info.state, ContainerState::Unknown);
        assert_eq!(info.image, "");
    }
}
