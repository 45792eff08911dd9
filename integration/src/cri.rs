//! A small CRI client over containerd's unix socket (the `k8s-cri` crate's runtime.v1), enough
//! to run host-network pods the way kubelet would, plus the containerd control scripts in
//! `integration/containerd/` (setup.sh once, start.sh / stop.sh around a test run).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerStatusRequest, CreateContainerRequest, ImageSpec,
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption,
    PodSandboxConfig, PodSandboxMetadata, RemoveContainerRequest, RemovePodSandboxRequest,
    RunPodSandboxRequest, StartContainerRequest, StopContainerRequest, StopPodSandboxRequest,
    VersionRequest,
};
use tonic::transport::{Channel, Endpoint, Uri};

pub const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";

/// containerd's socket: `$PALISADE_CONTAINERD_SOCKET`, else [`CONTAINERD_SOCKET`].
pub fn containerd_socket() -> PathBuf {
    std::env::var_os("PALISADE_CONTAINERD_SOCKET")
        .map_or_else(|| CONTAINERD_SOCKET.into(), PathBuf::from)
}
/// Images built by `integration/containerd/mkimage.py` and imported by `start.sh`.
pub const BUSYBOX_IMAGE: &str = "localhost/busybox:local";

/// `integration/containerd/<script>`.
pub fn containerd_script(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("containerd")
        .join(script)
}

/// The message every containerd-backed test fails with when containerd is not there.
pub fn how_to_start() -> String {
    format!(
        "containerd 1.7 with NRI must be running for this test: as root run `{}` once, then `{}` \
         (and `{}` afterwards)",
        containerd_script("setup.sh").display(),
        containerd_script("start.sh").display(),
        containerd_script("stop.sh").display()
    )
}

/// Runs one of the containerd scripts, failing with its output.
pub fn run_script(script: &str) -> Result<()> {
    let path = containerd_script(script);
    let out = std::process::Command::new("bash")
        .arg(&path)
        .output()
        .with_context(|| format!("running {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Pid of the containerd started by `start.sh`.
pub fn containerd_pid() -> Result<i32> {
    let dir = std::env::var("PALISADE_CTRD_DIR")
        .unwrap_or_else(|_| "/var/lib/palisade-it/containerd".into());
    let pid = std::fs::read_to_string(Path::new(&dir).join("containerd.pid"))
        .context("reading containerd.pid")?;
    pid.trim().parse().context("parsing containerd.pid")
}

/// A pod to run: host network, no CNI, no hostname (the host UTS namespace is shared).
#[derive(Clone, Debug, Default)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: HashMap<String, String>,
    pub annotations: HashMap<String, String>,
    /// Empty = containerd's default `/k8s.io/<id>`.
    pub cgroup_parent: String,
}

impl PodSpec {
    fn config(&self) -> PodSandboxConfig {
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: self.name.clone(),
                uid: self.uid.clone(),
                namespace: self.namespace.clone(),
                attempt: 0,
            }),
            log_directory: format!("/tmp/palisade-it-logs/{}", self.uid),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: self.cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        network: NamespaceMode::Node as i32,
                        pid: NamespaceMode::Container as i32,
                        ipc: NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

pub struct Cri {
    rt: RuntimeServiceClient<Channel>,
}

impl Cri {
    /// Connects and checks that the CRI service answers; the error says how to start containerd.
    pub async fn connect() -> Result<Cri> {
        let socket = containerd_socket();
        let dial = socket.clone();
        let attempt = async move {
            let channel = Endpoint::try_from("http://[::]:50051")?
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = dial.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(
                            tokio::net::UnixStream::connect(path).await?,
                        ))
                    }
                }))
                .await?;
            let mut rt = RuntimeServiceClient::new(channel);
            rt.version(VersionRequest::default()).await?;
            anyhow::Ok(Cri { rt })
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(cri)) => Ok(cri),
            Ok(Err(e)) => bail!(
                "CRI on {} unreachable ({e:#}).\n{}",
                socket.display(),
                how_to_start()
            ),
            Err(_) => bail!(
                "CRI on {} did not answer within 5 s.\n{}",
                socket.display(),
                how_to_start()
            ),
        }
    }

    /// RunPodSandbox; returns the sandbox id.
    pub async fn run_pod(&mut self, pod: &PodSpec) -> Result<String> {
        let req = RunPodSandboxRequest {
            config: Some(pod.config()),
            runtime_handler: String::new(),
        };
        let resp = self
            .rt
            .run_pod_sandbox(req)
            .await
            .with_context(|| format!("RunPodSandbox {}", pod.name))?;
        Ok(resp.into_inner().pod_sandbox_id)
    }

    /// CreateContainer in `pod_id` (busybox image unless `image` says otherwise); returns its id.
    pub async fn create_container(
        &mut self,
        pod_id: &str,
        pod: &PodSpec,
        name: &str,
        image: &str,
        command: &[&str],
        annotations: HashMap<String, String>,
    ) -> Result<String> {
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            command: command.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}.log"),
            annotations,
            ..Default::default()
        };
        let req = CreateContainerRequest {
            pod_sandbox_id: pod_id.into(),
            config: Some(config),
            sandbox_config: Some(pod.config()),
        };
        let resp = self
            .rt
            .create_container(req)
            .await
            .with_context(|| format!("CreateContainer {name}"))?;
        Ok(resp.into_inner().container_id)
    }

    pub async fn start_container(&mut self, id: &str) -> Result<(), tonic::Status> {
        self.rt
            .start_container(StartContainerRequest {
                container_id: id.into(),
            })
            .await
            .map(drop)
    }

    /// The container's state as CRI reports it (CONTAINER_CREATED = 0, RUNNING = 1, EXITED = 2).
    pub async fn container_state(&mut self, id: &str) -> Result<i32> {
        let req = ContainerStatusRequest {
            container_id: id.into(),
            verbose: false,
        };
        let resp = self
            .rt
            .container_status(req)
            .await
            .with_context(|| format!("ContainerStatus {id}"))?;
        Ok(resp.into_inner().status.context("no status")?.state)
    }

    pub async fn remove_container(&mut self, id: &str) -> Result<()> {
        self.rt
            .stop_container(StopContainerRequest {
                container_id: id.into(),
                timeout: 0,
            })
            .await?;
        self.rt
            .remove_container(RemoveContainerRequest {
                container_id: id.into(),
            })
            .await?;
        Ok(())
    }

    /// StopPodSandbox + RemovePodSandbox (removes the pod's containers too).
    pub async fn remove_pod(&mut self, pod_id: &str) -> Result<()> {
        self.rt
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: pod_id.into(),
            })
            .await?;
        self.rt
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: pod_id.into(),
            })
            .await?;
        Ok(())
    }
}
