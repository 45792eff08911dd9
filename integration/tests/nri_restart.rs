//! Registration survives a containerd crash and a plugin restart, and containers started while
//! the plugin was not registered are reported in the Synchronize of the next registration.
//!
//! Needs containerd started by `integration/containerd/start.sh` (this test SIGKILLs it by the
//! pid that script recorded and starts it again with the same script).

mod nri_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use nri_support::{spawn_plugin, Recorder};
use palisade_integration::cri::{containerd_pid, run_script, Cri, PodSpec, BUSYBOX_IMAGE};
use palisade_nri::{ConnectionState, ContainerState};

struct Pods<'a> {
    cri: &'a mut Cri,
    ns: String,
    ids: Vec<String>,
}

impl Pods<'_> {
    /// Runs a pod with one started `sleep` container; returns the container id.
    async fn launch(&mut self, name: &str) -> Result<String> {
        let pod = PodSpec {
            name: name.into(),
            namespace: self.ns.clone(),
            uid: format!("{name}-{}", std::process::id()),
            ..Default::default()
        };
        let pod_id = self.cri.run_pod(&pod).await?;
        self.ids.push(pod_id.clone());
        let id = self
            .cri
            .create_container(
                &pod_id,
                &pod,
                name,
                BUSYBOX_IMAGE,
                &["sleep", "3600"],
                Default::default(),
            )
            .await?;
        self.cri
            .start_container(&id)
            .await
            .with_context(|| format!("StartContainer {name}"))?;
        Ok(id)
    }
}

fn is_running(pid: i32) -> bool {
    // A zombie (reaped late by this machine's init) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn started(rec: &Recorder, id: &str) -> bool {
    rec.lock().started.iter().any(|s| s.info.id == id)
}

/// The container as listed by the latest Synchronize.
fn synced_pid(rec: &Recorder, id: &str) -> Option<(u32, ContainerState)> {
    let r = rec.lock();
    r.syncs
        .last()?
        .iter()
        .find(|c| c.id == id)
        .map(|c| (c.pid, c.state))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_survives_containerd_kill_and_plugin_restart() -> Result<()> {
    let mut cri = Cri::connect().await?;
    let ns = format!("palisade-it-restart-{}", std::process::id());
    let name = format!("it-restart-{}", std::process::id());
    let mut pods = Pods {
        cri: &mut cri,
        ns: ns.clone(),
        ids: Vec::new(),
    };
    let outcome = scenario(&mut pods, &ns, &name).await;
    let ids = std::mem::take(&mut pods.ids);
    for id in ids {
        if let Err(e) = cri.remove_pod(&id).await {
            eprintln!("cleanup: removing pod {id}: {e:#}");
        }
    }
    outcome
}

async fn scenario(pods: &mut Pods<'_>, ns: &str, name: &str) -> Result<()> {
    let rec = Recorder::new(ns, None)?;
    let plugin = spawn_plugin(name, Arc::clone(&rec));
    rec.wait_state(ConnectionState::Registered, 1, Duration::from_secs(10))
        .await?;
    let before = pods.launch("before-kill").await?;
    ensure!(
        started(&rec, &before),
        "StartContainer of before-kill not seen"
    );

    // containerd crashes: the plugin must notice and keep retrying.
    let pid = containerd_pid()?;
    ensure!(
        unsafe { libc::kill(pid, libc::SIGKILL) } == 0,
        "kill containerd {pid}: {}",
        std::io::Error::last_os_error()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_running(pid) {
        ensure!(
            Instant::now() < deadline,
            "containerd {pid} survived SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rec.wait_state(ConnectionState::Disconnected, 1, Duration::from_secs(5))
        .await?;
    run_script("start.sh")?;
    let ready = Instant::now();
    rec.wait_state(ConnectionState::Registered, 2, Duration::from_secs(15))
        .await?;
    println!(
        "re-registered {:.0} ms after containerd answered again",
        ready.elapsed().as_secs_f64() * 1e3
    );
    let (pid_before, state) = synced_pid(&rec, &before)
        .context("before-kill missing from the Synchronize after the restart")?;
    ensure!(
        pid_before != 0 && state == ContainerState::Running,
        "before-kill synced as pid {pid_before} {state:?}"
    );
    let after = pods.launch("after-restart").await?;
    ensure!(
        started(&rec, &after),
        "StartContainer of after-restart not seen after re-registration"
    );

    // The plugin itself restarts; a container started while it is gone shows up in its first sync.
    plugin.abort();
    let _ = plugin.await;
    let while_down = pods.launch("while-down").await?;
    ensure!(
        !started(&rec, &while_down),
        "the stopped plugin still saw events"
    );
    let rec2 = Recorder::new(ns, None)?;
    let plugin2 = spawn_plugin(name, Arc::clone(&rec2));
    rec2.wait_state(ConnectionState::Registered, 1, Duration::from_secs(10))
        .await?;
    for (what, id) in [
        ("before-kill", &before),
        ("after-restart", &after),
        ("while-down", &while_down),
    ] {
        let (pid, state) = synced_pid(&rec2, id)
            .with_context(|| format!("{what} missing from the new plugin's Synchronize"))?;
        ensure!(
            pid != 0 && state == ContainerState::Running,
            "{what} synced as pid {pid} {state:?}"
        );
    }
    let last = pods.launch("after-plugin-restart").await?;
    ensure!(
        started(&rec2, &last),
        "StartContainer of after-plugin-restart not seen by the restarted plugin"
    );
    plugin2.abort();
    Ok(())
}
