//! Minimal NRI plugin that logs every event it gets, for checking the protocol against a real
//! runtime before the agent exists.
//!
//!   cargo run -p palisade-nri --example nri-log -- [--socket PATH] [--name N] [--idx NN] [--refuse SUBSTR]
//!
//! With `--refuse SUBSTR`, StartContainer of any container whose name contains SUBSTR is
//! refused (to observe what the runtime does with a handler error). When started by containerd
//! as a pre-installed plugin (NRI_PLUGIN_SOCKET set) it uses the inherited socket instead.

use std::sync::Arc;

use anyhow::{bail, Context};
use palisade_nri::{
    async_trait, cgroup2_mount, cgroup_dir, cgroup_id, policy_binding, run_plugin, ConnectionState,
    ContainerHandler, ContainerInfo, PluginConfig, PodInfo, DEFAULT_SOCKET,
};

struct Logger {
    refuse: Option<String>,
    cgroup2: Option<std::path::PathBuf>,
}

#[async_trait]
impl ContainerHandler for Logger {
    async fn start_container(&self, c: &ContainerInfo) -> Result<(), String> {
        let cgroup = self.cgroup2.as_ref().map(|root| {
            let dir = cgroup_dir(&c.cgroups_path, root);
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let pid_inside = procs.lines().any(|l| l.trim() == c.pid.to_string());
            format!(
                "{} id={:?} init_pid_inside={pid_inside}",
                dir.display(),
                cgroup_id(&dir).ok()
            )
        });
        println!(
            "StartContainer id={} name={} pod={}/{} uid={} image={} pid={} cgroups_path={} cgroup={} binding={:?}",
            c.id,
            c.name,
            c.pod_namespace,
            c.pod_name,
            c.pod_uid,
            c.image,
            c.pid,
            c.cgroups_path,
            cgroup.unwrap_or_default(),
            policy_binding(c),
        );
        match &self.refuse {
            Some(s) if c.name.contains(s.as_str()) => {
                Err(format!("nri-log refuses container {:?}", c.name))
            }
            _ => Ok(()),
        }
    }

    async fn remove_container(&self, id: &str) {
        println!("RemoveContainer id={id}");
    }

    async fn synchronize(&self, containers: &[ContainerInfo]) {
        println!("Synchronize containers={}", containers.len());
        for c in containers {
            println!(
                "  {} {}/{}/{} pid={} state={:?}",
                c.id, c.pod_namespace, c.pod_name, c.name, c.pid, c.state
            );
        }
    }

    async fn stop_container(&self, c: &ContainerInfo) {
        println!("StopContainer id={} name={} pid={}", c.id, c.name, c.pid);
    }

    async fn run_pod_sandbox(&self, p: &PodInfo) -> Result<(), String> {
        println!(
            "RunPodSandbox id={} pod={}/{} pid={} cgroups_path={} annotations={:?}",
            p.id, p.namespace, p.name, p.pid, p.cgroups_path, p.annotations
        );
        Ok(())
    }

    async fn stop_pod_sandbox(&self, p: &PodInfo) {
        println!("StopPodSandbox id={}", p.id);
    }

    async fn remove_pod_sandbox(&self, p: &PodInfo) {
        println!("RemovePodSandbox id={}", p.id);
    }

    fn connection_changed(&self, state: ConnectionState) {
        println!("connection {state:?}");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let (mut socket, mut name, mut idx, mut refuse) = (
        DEFAULT_SOCKET.to_string(),
        "nri-log".to_string(),
        "50".to_string(),
        None,
    );
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--socket" => socket = val()?,
            "--name" => name = val()?,
            "--idx" => idx = val()?,
            "--refuse" => refuse = Some(val()?),
            other => bail!("unknown argument {other}"),
        }
    }
    let cfg = match PluginConfig::pre_installed_from_env()? {
        Some(cfg) => cfg,
        None => PluginConfig::external(socket, name, idx),
    };
    let handler = Arc::new(Logger {
        refuse,
        cgroup2: cgroup2_mount()?,
    });
    run_plugin(cfg, handler).await?;
    Ok(())
}
