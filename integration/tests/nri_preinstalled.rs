//! palisade-nri as a pre-installed plugin: containerd launches it itself from
//! `/opt/nri/plugins/NN-name` with the socket on fd 3 and only the NRI_PLUGIN_* environment.
//!
//! This test binary is its own plugin: the test links itself into the plugin directory and
//! restarts containerd (via `integration/containerd/stop.sh` / `start.sh`); containerd then
//! runs this binary again with NRI_PLUGIN_SOCKET set, where the same test function acts as the
//! plugin and appends every StartContainer to a file the parent reads. The link is removed and
//! containerd restarted without it at the end, whatever the outcome (stop.sh also removes
//! leftovers, since a plugin that cannot start makes containerd 1.7 exit).

mod nri_support;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use palisade_integration::cri::{run_script, Cri, PodSpec, BUSYBOX_IMAGE};
use palisade_nri::{async_trait, run_plugin, ContainerHandler, ContainerInfo, PluginConfig};

const PLUGIN_LINK: &str = "/opt/nri/plugins/95-palisade-it-preinstalled";
const EVENTS: &str = "/run/palisade-it-preinstalled.events";

struct FileLog;

#[async_trait]
impl ContainerHandler for FileLog {
    async fn start_container(&self, c: &ContainerInfo) -> Result<(), String> {
        let line = format!(
            "start {} {} {}/{} pid={}\n",
            c.id, c.name, c.pod_namespace, c.pod_name, c.pid
        );
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(EVENTS)
            .map_err(|e| e.to_string())?;
        f.write_all(line.as_bytes()).map_err(|e| e.to_string())
    }
    async fn remove_container(&self, _id: &str) {}
    async fn synchronize(&self, _containers: &[ContainerInfo]) {}
}

/// The child side, as launched by containerd.
async fn as_plugin() -> Result<()> {
    let cfg = PluginConfig::pre_installed_from_env()?.context("NRI_PLUGIN_SOCKET vanished")?;
    std::fs::write(EVENTS, format!("registered-as {} {}\n", cfg.name, cfg.idx))?;
    run_plugin(cfg, Arc::new(FileLog)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containerd_launches_the_plugin_and_delivers_events() -> Result<()> {
    if std::env::var_os("NRI_PLUGIN_SOCKET").is_some() {
        return as_plugin().await;
    }
    Cri::connect().await?; // fails with how to start containerd
    let _ = std::fs::remove_file(EVENTS);
    let exe = std::env::current_exe()?;
    let outcome = async {
        // stop.sh removes leftover test plugins, so the link goes in between stop and start.
        run_script("stop.sh")?;
        std::fs::create_dir_all(Path::new(PLUGIN_LINK).parent().unwrap())?;
        let _ = std::fs::remove_file(PLUGIN_LINK);
        std::os::unix::fs::symlink(&exe, PLUGIN_LINK)?;
        run_script("start.sh").context("containerd did not start with the pre-installed plugin")?;
        scenario().await
    }
    .await;
    let _ = std::fs::remove_file(PLUGIN_LINK);
    let restore = run_script("stop.sh").and_then(|()| run_script("start.sh"));
    outcome?;
    restore
}

async fn scenario() -> Result<()> {
    let log = || std::fs::read_to_string(EVENTS).unwrap_or_default();
    // containerd 1.7 boots only after its pre-installed plugins registered; allow for slow logs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log().starts_with("registered-as palisade-it-preinstalled 95\n") {
        ensure!(
            Instant::now() < deadline,
            "plugin did not start as expected: {:?}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut cri = Cri::connect().await?;
    let pod = PodSpec {
        name: "prereg".into(),
        namespace: format!("palisade-it-prereg-{}", std::process::id()),
        uid: format!("prereg-{}", std::process::id()),
        ..Default::default()
    };
    let pod_id = cri.run_pod(&pod).await?;
    let result = async {
        let id = cri
            .create_container(
                &pod_id,
                &pod,
                "app",
                BUSYBOX_IMAGE,
                &["sleep", "3600"],
                Default::default(),
            )
            .await?;
        cri.start_container(&id).await?;
        // StartContainer is synchronous: the line is written before containerd returned.
        let want = format!("start {id} app {}/prereg pid=", pod.namespace);
        let deadline = Instant::now() + Duration::from_secs(2);
        while !log().contains(&want) {
            ensure!(
                Instant::now() < deadline,
                "pre-installed plugin did not record {want:?}: {:?}",
                log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::Ok(())
    }
    .await;
    cri.remove_pod(&pod_id).await?;
    result
}
