//! `palisade agent`: loads the sensors, drains the ring buffer in a tokio task, renders and
//! exports events, and serves the local API.

use std::{
    mem::MaybeUninit,
    os::fd::{AsRawFd, RawFd},
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapHandle, RingBufferBuilder};
use serde::Serialize;
use tokio::{io::unix::AsyncFd, sync::broadcast};

use crate::{
    containers::ContainerRegistry,
    events::{
        export::{Exporter, Sink},
        pending::{CgroupResolver, Pending},
        render::Renderer,
    },
    kernel::{self, KernelFeatures},
    process::{cache::ProcessCache, procfs, record},
    sensors,
};

/// Bound of the process cache: running processes tracked (matches the kernel map size).
pub const MAX_LIVE_PROCESSES: usize = 65_536;
/// Bound of the process cache: exited processes retained for late records.
pub const MAX_EXITED_PROCESSES: usize = 4_096;
/// Lines queued to the export sink before drops are counted.
pub const EXPORT_QUEUE: usize = 65_536;
/// Lines buffered per `palisade events` subscriber before it lags (and is told how much).
pub const SUBSCRIBER_QUEUE: usize = 16_384;

/// Agent settings (from flags and the config file).
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Node name in events (default: hostname).
    pub node_name: String,
    /// Export sink, if any.
    pub export: Option<Sink>,
    /// Local API socket.
    pub api_socket: PathBuf,
    /// Policy directory.
    pub policy_dir: Option<PathBuf>,
    /// NRI socket (None = do not connect).
    pub nri_socket: Option<PathBuf>,
    /// Prometheus endpoint.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// bpffs directory for pinned state (None = nothing outlives the agent).
    pub pin_dir: Option<PathBuf>,
    /// Hook-based detections (`--detect-host`, `--detect-loader`, `--no-detect`).
    pub detect: crate::detect::DetectArgs,
    /// Self-protection against contained processes (`--no-self-protect` turns it off).
    pub self_protect: bool,
    /// Fail-closed guard for while the NRI plugin is down (`--fail-closed`, `--guard-cgroup`).
    pub guard: crate::guard::GuardOptions,
}

/// Userspace counters (kernel counters come from the stats map).
#[derive(Debug, Default)]
pub struct Counters {
    /// Records that failed to decode.
    pub decode_errors: AtomicU64,
    /// Events produced.
    pub events: AtomicU64,
}

/// State shared between the drain loop, the API and the runtime integration.
pub struct Shared {
    /// What the kernel allows.
    pub features: KernelFeatures,
    /// Containers by cgroup id.
    pub containers: Arc<ContainerRegistry>,
    /// Renderer and process cache.
    pub renderer: Mutex<Renderer>,
    /// Userspace counters.
    pub counters: Counters,
    /// Kernel counters map.
    pub kernel_stats: MapHandle,
    /// Live event stream for API subscribers.
    pub events_tx: broadcast::Sender<Arc<str>>,
    /// Export sink.
    pub exporter: Option<Exporter>,
    /// Prometheus counters.
    pub metrics: crate::metrics::Metrics,
    /// Kernel process map (for its fill level).
    pub procs_map: MapHandle,
    /// Policies and the enforcer; None when no enforcement mechanism could be loaded.
    pub engine: Option<crate::engine::Engine>,
    /// Why `engine` is None.
    pub engine_error: Option<String>,
    /// NRI registration state, None when NRI is disabled.
    pub nri_state: Mutex<Option<palisade_nri::ConnectionState>>,
    /// Container events waiting for their container's identity.
    pub pending: Mutex<Pending>,
    /// cgroup id -> "is a container cgroup".
    pub resolver: Mutex<CgroupResolver>,
    /// Scope and rendering of detection records.
    pub detector: crate::detect::Detector,
    /// Fail-closed guard (`--fail-closed`).
    pub guard: crate::guard::Slot,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The status report (`palisade status -o json`).
#[derive(Debug, Serialize)]
pub struct Status {
    /// Kernel facts.
    pub kernel: KernelFeatures,
    /// Kernel-side counters.
    pub kernel_counters: sensors::process::KernelCounters,
    /// Events produced by the agent.
    pub events: u64,
    /// Records that failed to decode.
    pub decode_errors: u64,
    /// Lines the export sink dropped.
    pub export_dropped: u64,
    /// Lines written by the export sink.
    pub export_written: u64,
    /// Process cache counters and bounds.
    pub process_cache: crate::process::cache::CacheStats,
    /// Bound on running processes tracked.
    pub process_cache_max_live: usize,
    /// Containers tracked.
    pub containers: usize,
    /// NRI registration: `registered`, `disconnected` or `disabled`.
    pub nri: &'static str,
    /// Container events waiting for their container's identity now.
    pub events_awaiting_identity: usize,
    /// Container events exported without identity after waiting the maximum time.
    pub identity_timeouts: u64,
    /// Enforcement mechanisms in use (None: enforcement unavailable, see `enforcement_error`).
    pub enforcement: Option<crate::enforce::Mechanisms>,
    /// Why enforcement is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement_error: Option<String>,
    /// Kernel enforcement counters (decisions, drops, fail-closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement_counters: Option<crate::enforce::decision::Counters>,
    /// Policies held.
    pub policies: usize,
    /// Self-protection (maps, links, pins and the agent process).
    pub self_protection: crate::protect::Status,
    /// Fail-closed guard for while the NRI plugin is down.
    pub guard: crate::guard::GuardStatus,
}

impl Shared {
    /// A status snapshot.
    pub fn status(&self) -> Status {
        let held = {
            let p = lock(&self.pending);
            (p.len(), p.identity_timeouts)
        };
        Status {
            kernel: self.features.clone(),
            kernel_counters: sensors::process::counters(&self.kernel_stats).unwrap_or_default(),
            events: self.counters.events.load(Ordering::Relaxed),
            decode_errors: self.counters.decode_errors.load(Ordering::Relaxed),
            export_dropped: self.exporter.as_ref().map_or(0, Exporter::dropped),
            export_written: self.exporter.as_ref().map_or(0, Exporter::written),
            process_cache: self
                .renderer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cache_stats(),
            process_cache_max_live: MAX_LIVE_PROCESSES,
            containers: self.containers.len(),
            // one guard: temporaries of a struct expression live to its end, so two `lock()`
            // calls on the same mutex here would deadlock
            events_awaiting_identity: held.0,
            identity_timeouts: held.1,
            enforcement: self.engine.as_ref().map(|e| e.mechanisms().clone()),
            enforcement_error: self.engine_error.clone(),
            enforcement_counters: self
                .engine
                .as_ref()
                .and_then(|e| e.enforcer().counters().ok()),
            policies: self.engine.as_ref().map_or(0, |e| e.names().len()),
            self_protection: crate::protect::status(),
            guard: self.guard.status(),
            nri: match *self.nri_state.lock().unwrap_or_else(|e| e.into_inner()) {
                None => "disabled",
                Some(palisade_nri::ConnectionState::Registered) => "registered",
                Some(palisade_nri::ConnectionState::Disconnected) => "disconnected",
            },
        }
    }

    /// Records the NRI connection state.
    pub fn set_nri_state(&self, s: palisade_nri::ConnectionState) {
        *self.nri_state.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
    }

    /// Fill level of the kernel maps: (name, entries, capacity).
    pub fn map_fill(&self) -> Vec<(&'static str, u64, u64)> {
        let procs = self.procs_map.keys().count() as u64;
        vec![("procs", procs, u64::from(self.procs_map.max_entries()))]
    }

    /// The engine, or why there is none.
    pub fn engine(&self) -> Result<&crate::engine::Engine, String> {
        self.engine.as_ref().ok_or_else(|| {
            format!(
                "enforcement is unavailable: {}",
                self.engine_error.as_deref().unwrap_or("not loaded")
            )
        })
    }

    /// Tracks a container (and, with policies, binds them to its cgroup), then exports the
    /// events that were waiting for its identity.
    pub fn bind_container(&self, meta: crate::containers::ContainerMeta) -> Result<(), String> {
        if !meta.policies.is_empty() {
            // maps first: the container must not run a single instruction unprotected
            self.engine()?
                .bind(meta.cgroup_id, &meta.policies, meta.mode == "audit")
                .map_err(|e| format!("unknown or unloadable policy: {e:#}; refusing to start the container unprotected"))?;
        } else if let Some(e) = &self.engine {
            // a reused cgroup id must not keep a previous container's policies
            let _ = e.unbind(meta.cgroup_id);
        }
        // registry update and release under the pending lock: see `on_bytes`
        let mut pending = lock(&self.pending);
        self.containers.insert(meta.clone());
        let held = pending.release_container(&meta);
        drop(pending);
        for ev in &held {
            self.publish(ev);
        }
        Ok(())
    }

    /// Exports events that waited too long for an identity.
    pub fn release_expired(&self) {
        let evs = lock(&self.pending).release_expired(std::time::Instant::now());
        for ev in &evs {
            self.publish(ev);
        }
    }

    /// Forgets a container by runtime id.
    pub fn unbind_container(&self, id: &str) {
        if let Some(meta) = self.containers.remove_id(id) {
            if let Some(e) = &self.engine {
                if let Err(err) = e.unbind(meta.cgroup_id) {
                    tracing::warn!(
                        "unbinding cgroup {} of container {id}: {err:#}",
                        meta.cgroup_id
                    );
                }
            }
        }
    }

    /// Forgets whatever is registered on cgroup `id`.
    pub fn unbind_cgroup_id(&self, id: u64) {
        match self.containers.get(id) {
            Some(meta) => self.unbind_container(&meta.id),
            None => {
                if let Some(e) = &self.engine {
                    let _ = e.unbind(id);
                }
            }
        }
    }

    /// Turns an enforcement decision into a `process_lsm` event and publishes it.
    pub fn on_decision(&self, d: &crate::enforce::Decision) {
        self.metrics.enforcement(&d.policy, d.action, d.mechanism);
        let (process, parent, node, time) = {
            let mut r = lock(&self.renderer);
            let process =
                r.process_by_pid(d.pid, d.tid)
                    .unwrap_or_else(|| crate::events::model::Process {
                        pid: d.pid,
                        tid: d.tid,
                        binary: d.comm.clone(),
                        flags: "miss".into(),
                        cgroup_id: d.cgroup_id,
                        ..Default::default()
                    });
            let parent = r.parent_by_pid(d.pid);
            (process, parent, r.node().to_owned(), r.time(d.ktime))
        };
        let mut ev = crate::events::lsm::envelope(d, process, parent, &node, time);
        // the acting cgroup may differ from the exec-time one (a process moved into a container)
        let p = ev.body.process_mut();
        p.cgroup_id = d.cgroup_id;
        if let Some(c) = self.containers.get(d.cgroup_id) {
            p.pod = Some(c.pod.clone());
            p.docker = Some(c.id.chars().take(31).collect());
        }
        self.publish(&ev);
    }

    /// Handles one raw ring-buffer record: decode, render, export, publish.
    pub fn on_bytes(&self, bytes: &[u8]) {
        let ev = if crate::detect::Detector::owns(bytes) {
            self.detector.on_bytes(self, bytes)
        } else {
            let rec = match record::decode(bytes) {
                Ok(r) => r,
                Err(e) => {
                    self.counters.decode_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("dropping record: {e}");
                    return;
                }
            };
            lock(&self.renderer).on_record(rec)
        };
        let Some(ev) = ev else { return };
        let (cg, has_pod) = {
            let p = ev.body.process();
            (p.cgroup_id, p.pod.is_some())
        };
        if !has_pod && cg > 1 {
            // The registry check and the hold happen under the pending lock, which
            // `bind_container` also takes: an event cannot slip between them and wait in vain.
            let mut pending = lock(&self.pending);
            if self.containers.get(cg).is_none() && lock(&self.resolver).is_container(cg) {
                let overflow = pending.hold(cg, ev, std::time::Instant::now());
                drop(pending);
                if let Some(old) = overflow {
                    self.publish(&old);
                }
                return;
            }
        }
        self.publish(&ev);
    }

    /// Exports and broadcasts an event.
    pub fn publish(&self, ev: &crate::events::model::Envelope) {
        let line: Arc<str> = match serde_json::to_string(ev) {
            Ok(s) => s.into(),
            Err(e) => {
                tracing::warn!("event not serializable: {e}");
                return;
            }
        };
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        self.metrics.event(ev.body.type_name());
        if let Some(ex) = &self.exporter {
            ex.send(Arc::clone(&line));
        }
        // no subscriber is not an error
        let _ = self.events_tx.send(line);
    }
}

struct Fd(RawFd);
impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Hostname, for `node_name`.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// Loads the enforcer and the policy directory. Enforcement that cannot load is reported (status,
/// log) and the agent still observes; a broken policy directory is an error at start-up.
fn load_engine(opts: &AgentOptions) -> (Option<crate::engine::Engine>, Option<String>) {
    let enforce_opts = crate::enforce::Options {
        // enforcement outlives the agent (crash, restart, upgrade) next to the process sensor
        pin_dir: opts.pin_dir.clone(),
        // hidden test knob: take pinned state over through the upgrade (migrate) path
        force_migrate: std::env::var_os("PALISADE_ENFORCE_MIGRATE").is_some_and(|v| v == "1"),
        ..Default::default()
    };
    let enforcer = match crate::enforce::Enforcer::load(enforce_opts) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("enforcement unavailable: {e:#}");
            return (None, Some(format!("{e:#}")));
        }
    };
    let dirs: Vec<PathBuf> = opts.policy_dir.iter().cloned().collect();
    let engine = crate::engine::Engine::new(enforcer, dirs);
    (Some(engine), None)
}

/// Runs the agent until SIGINT/SIGTERM.
pub async fn run(opts: AgentOptions) -> Result<()> {
    let features = kernel::probe();
    tracing::info!(release = %features.release, lsm = ?features.lsm_list, "kernel probed");
    let mut obj = MaybeUninit::uninit();
    if opts.pin_dir.is_some() {
        kernel::ensure_bpffs()
            .context("mounting bpffs at /sys/fs/bpf for pinning (or pass --bpf-pin-dir none)")?;
    }
    let sensor = sensors::process::load(
        &mut obj,
        opts.pin_dir.as_ref().map(|d| d.join("process")).as_deref(),
    )?;
    if sensor.adopted {
        tracing::info!(
            "adopted pinned process sensor state: records from while no agent ran come first"
        );
    }
    let skel = &sensor.skel;
    // detections write into the process ring buffer, so they are drained by the loop below
    let mut detect_obj = crate::detect::sensor::DetectObjects::default();
    let _detect = crate::detect::sensor::load_if_enabled(
        &mut detect_obj,
        &skel.maps.events,
        &skel.maps.stats,
        &opts.detect,
    );
    let containers = Arc::new(ContainerRegistry::default());
    let mut renderer = Renderer::new(
        opts.node_name.clone(),
        ProcessCache::new(MAX_LIVE_PROCESSES, MAX_EXITED_PROCESSES),
        Arc::clone(&containers),
    );
    let cg_root = features
        .cgroup
        .as_ref()
        .map(|c| PathBuf::from(&c.cgroup2_root));
    renderer.seed(procfs::scan("/proc".as_ref(), cg_root.as_deref()));
    let (engine, engine_error) = load_engine(&opts);
    let exporter = opts
        .export
        .clone()
        .map(|s| Exporter::start(s, EXPORT_QUEUE))
        .transpose()
        .context("export sink")?;
    let (events_tx, _) = broadcast::channel(SUBSCRIBER_QUEUE);
    let shared = Arc::new(Shared {
        features,
        containers,
        renderer: Mutex::new(renderer),
        counters: Counters::default(),
        kernel_stats: sensors::process::stats_handle(skel)?,
        events_tx,
        exporter,
        metrics: crate::metrics::Metrics::default(),
        procs_map: MapHandle::try_from(&skel.maps.procs).context("procs map handle")?,
        engine,
        engine_error,
        nri_state: Mutex::new(None),
        pending: Mutex::new(Pending::default()),
        resolver: Mutex::new(CgroupResolver::new(cg_root.as_deref())),
        detector: crate::detect::Detector::new(opts.detect.clone()),
        guard: crate::guard::load(
            &opts.guard,
            opts.pin_dir.as_deref(),
            cg_root.as_deref(),
            opts.nri_socket.is_some(),
        ),
    });
    if let (crate::guard::Slot::Failed(e), crate::guard::Mode::Deny) =
        (&shared.guard, opts.guard.mode)
    {
        anyhow::bail!("--fail-closed deny: the guard cannot load: {e}");
    }
    let guard_events = match shared.guard.get().map(|g| g.decisions()) {
        Some(Ok(mut rx)) => {
            let sh = Arc::clone(&shared);
            Some(tokio::spawn(async move {
                while let Some(d) = rx.recv().await {
                    sh.on_decision(&d);
                }
            }))
        }
        Some(Err(e)) => anyhow::bail!("fail-closed guard event stream: {e:#}"),
        None => None,
    };

    let decisions = match shared.engine.as_ref().map(|e| e.enforcer().decisions()) {
        Some(Ok(mut rx)) => {
            let sh = Arc::clone(&shared);
            Some(tokio::spawn(async move {
                while let Some(d) = rx.recv().await {
                    sh.on_decision(&d);
                }
            }))
        }
        Some(Err(e)) => anyhow::bail!("enforcement decision stream: {e:#}"),
        None => None,
    };
    let api = crate::api::server::serve(opts.api_socket.clone(), Arc::clone(&shared)).await?;
    let metrics = match opts.metrics_addr {
        Some(addr) => Some(crate::metrics::serve(addr, Arc::clone(&shared)).await?),
        None => None,
    };
    if let (Some(dir), Some(engine)) = (&opts.policy_dir, shared.engine.as_ref()) {
        if dir.exists() {
            let n = engine
                .load_dir(dir)
                .with_context(|| format!("loading policies from {}", dir.display()))?;
            tracing::info!(policies = n, dir = %dir.display(), "policies loaded");
        }
    }
    let nri = match (&opts.nri_socket, cg_root.as_deref()) {
        (Some(sock), Some(root)) => {
            let handler = Arc::new(crate::runtime::NriHandler::new(Arc::clone(&shared), root));
            let cfg = palisade_nri::PluginConfig::external(sock, "palisade", "10");
            shared.set_nri_state(palisade_nri::ConnectionState::Disconnected);
            Some(tokio::spawn(async move {
                if let Err(e) = palisade_nri::run_plugin(cfg, handler).await {
                    tracing::error!("NRI plugin stopped: {e}");
                }
            }))
        }
        (Some(_), None) => {
            anyhow::bail!("NRI needs cgroup v2 mounted (none found in /proc/self/mounts)")
        }
        (None, _) => None,
    };

    // self-protection last: it protects whatever the components above loaded and pinned
    let _protect = if opts.self_protect {
        let sh = Arc::clone(&shared);
        crate::protect::start(opts.pin_dir.clone(), move |d| sh.on_decision(d))
    } else {
        crate::protect::disabled();
        None
    };
    let sh = Arc::clone(&shared);
    let mut rbb = RingBufferBuilder::new();
    rbb.add(&skel.maps.events, move |data: &[u8]| {
        sh.on_bytes(data);
        0
    })?;
    let rb = rbb.build()?;
    // SAFETY: the epoll fd belongs to `rb`, which outlives `afd` (both live to the end of this fn).
    let afd = unsafe {
        AsyncFd::register_with_interest(Fd(rb.epoll_fd()), tokio::io::Interest::READABLE)?
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tracing::info!(socket = %opts.api_socket.display(), "palisade agent running");
    eprintln!(
        "palisade agent running (api {}); Ctrl-C to stop",
        opts.api_socket.display()
    );
    loop {
        tokio::select! {
            guard = afd.readable() => {
                let mut guard = guard?;
                rb.consume()?;
                guard.clear_ready();
            }
            _ = tick.tick() => {
                rb.consume()?;
                shared.release_expired();
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    rb.consume()?;
    // shutting down: whatever still waits for an identity goes out now
    for ev in lock(&shared.pending)
        .release_expired(std::time::Instant::now() + crate::events::pending::HOLD)
    {
        shared.publish(&ev);
    }
    api.abort();
    for t in [metrics, nri, decisions, guard_events]
        .into_iter()
        .flatten()
    {
        t.abort();
    }
    let _ = std::fs::remove_file(&opts.api_socket);
    drop(afd);
    drop(rb);
    if let Some(shared) = Arc::into_inner(shared) {
        if let Some(ex) = shared.exporter {
            ex.close().context("flushing export sink")?;
        }
    }
    Ok(())
}
