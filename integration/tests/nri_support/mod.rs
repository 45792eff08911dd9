//! Shared by the NRI tests: an in-process palisade-nri plugin with a handler that records what
//! it saw at each event, checked against the live system at that very moment.
// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use palisade_nri::{
    async_trait, cgroup2_mount, cgroup_dir, run_plugin, ConnectionState, ContainerHandler,
    ContainerInfo, PluginConfig, DEFAULT_SOCKET,
};
use tokio::sync::watch;

/// What the handler found at StartContainer, before replying to containerd.
#[derive(Clone, Debug)]
pub struct StartSeen {
    pub info: ContainerInfo,
    pub cgroup_dir: PathBuf,
    pub cgroup_existed: bool,
    pub pid_in_cgroup: bool,
    /// `/proc/<pid>/comm` of the init process: `runc:[2:INIT]` while the entrypoint is not exec'd.
    pub init_comm: String,
    pub handler_time: Duration,
}

#[derive(Default)]
pub struct Record {
    pub started: Vec<StartSeen>,
    pub removed: Vec<String>,
    pub stopped: Vec<String>,
    /// One entry per Synchronize: the container ids listed.
    pub syncs: Vec<Vec<ContainerInfo>>,
}

/// Records events for pods in `namespace` only (other tests and workloads share containerd).
pub struct Recorder {
    namespace: String,
    /// StartContainer of a container with this name is refused.
    refuse_name: Option<String>,
    /// StartContainer of a container with this name takes this long.
    slow: Option<(String, Duration)>,
    cgroup2: PathBuf,
    pub record: Mutex<Record>,
    state: watch::Sender<(ConnectionState, u32)>,
}

impl Recorder {
    pub fn new(namespace: &str, refuse_name: Option<&str>) -> Result<Arc<Self>> {
        Self::with_slow(namespace, refuse_name, None)
    }

    pub fn with_slow(
        namespace: &str,
        refuse_name: Option<&str>,
        slow: Option<(&str, Duration)>,
    ) -> Result<Arc<Self>> {
        let cgroup2 = cgroup2_mount()?.context("no cgroup2 mount on this host")?;
        Ok(Arc::new(Recorder {
            namespace: namespace.into(),
            refuse_name: refuse_name.map(str::to_owned),
            slow: slow.map(|(n, d)| (n.to_owned(), d)),
            cgroup2,
            record: Mutex::new(Record::default()),
            state: watch::channel((ConnectionState::Disconnected, 0)).0,
        }))
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap()
    }

    /// Waits until the connection state is `want` with at least `min_registrations`.
    pub async fn wait_state(
        &self,
        want: ConnectionState,
        min_registrations: u32,
        timeout: Duration,
    ) -> Result<()> {
        let mut rx = self.state.subscribe();
        let ok = tokio::time::timeout(
            timeout,
            rx.wait_for(|(s, n)| *s == want && *n >= min_registrations),
        )
        .await;
        match ok {
            Ok(Ok(_)) => Ok(()),
            _ => bail!("plugin did not reach {want:?} (registration #{min_registrations}) within {timeout:?}; now {:?}", *self.state.borrow()),
        }
    }
}

#[async_trait]
impl ContainerHandler for Recorder {
    async fn start_container(&self, c: &ContainerInfo) -> Result<(), String> {
        if c.pod_namespace != self.namespace {
            return Ok(());
        }
        let t0 = Instant::now();
        let dir = cgroup_dir(&c.cgroups_path, &self.cgroup2);
        let procs = std::fs::read_to_string(dir.join("cgroup.procs"));
        let pid_in_cgroup = procs
            .as_ref()
            .is_ok_and(|p| p.lines().any(|l| l.trim() == c.pid.to_string()));
        let init_comm = std::fs::read_to_string(format!("/proc/{}/comm", c.pid))
            .unwrap_or_default()
            .trim()
            .to_owned();
        let seen = StartSeen {
            info: c.clone(),
            cgroup_existed: dir.is_dir(),
            cgroup_dir: dir,
            pid_in_cgroup,
            init_comm,
            handler_time: t0.elapsed(),
        };
        self.lock().started.push(seen);
        if let Some((name, delay)) = &self.slow {
            if *name == c.name {
                tokio::time::sleep(*delay).await;
            }
        }
        match &self.refuse_name {
            Some(name) if *name == c.name => Err(format!("palisade test refuses container {name}")),
            _ => Ok(()),
        }
    }

    async fn remove_container(&self, id: &str) {
        self.lock().removed.push(id.to_owned());
    }

    async fn stop_container(&self, c: &ContainerInfo) {
        self.lock().stopped.push(c.id.clone());
    }

    async fn synchronize(&self, containers: &[ContainerInfo]) {
        self.lock().syncs.push(containers.to_vec());
    }

    fn connection_changed(&self, state: ConnectionState) {
        self.state.send_modify(|(s, n)| {
            *s = state;
            if state == ConnectionState::Registered {
                *n += 1;
            }
        });
    }
}

/// Starts the plugin in this process (external mode on the default socket, fast reconnects).
pub fn spawn_plugin(name: &str, handler: Arc<Recorder>) -> tokio::task::JoinHandle<()> {
    let mut cfg = PluginConfig::external(DEFAULT_SOCKET, name, "90");
    cfg.backoff.initial = Duration::from_millis(50);
    cfg.backoff.max = Duration::from_millis(500);
    tokio::spawn(async move {
        if let Err(e) = run_plugin(cfg, handler).await {
            panic!("run_plugin returned: {e}");
        }
    })
}

/// Latency summary in milliseconds: (p50, p99, max).
pub fn percentiles(mut xs: Vec<Duration>) -> (f64, f64, f64) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| ms(xs[((xs.len() as f64 - 1.0) * q).round() as usize]);
    (at(0.5), at(0.99), ms(*xs.last().unwrap()))
}

pub fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
