//! Hook-based detections (`bpf/src/detect.bpf.c`): privilege changes, capability raises,
//! unprivileged user namespaces, BPF loads, kernel modules, shared-library loading and TCP
//! connect/accept/close, exported as Tetragon-shaped `process_kprobe` / `process_loader` events
//! that name the hook which produced them.
//!
//! Scope: container processes only (a cgroup the container registry knows) unless
//! `--detect-host` is given. Shared-library events are opt-in (`--detect-loader`): every
//! process maps a handful of libraries, and one event per (process image, file) still adds up.

pub mod names;
pub mod record;
pub mod render;
pub mod sensor;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{agent::Shared, events::model::Envelope};

/// Agent flags for the detections (flattened into `palisade agent`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DetectArgs {
    /// Also report detections for host (non-container) processes.
    #[arg(long)]
    pub detect_host: bool,
    /// Report shared libraries (files mapped executable) as `process_loader` events.
    #[arg(long)]
    pub detect_loader: bool,
    /// Do not load the detection tracepoints at all.
    #[arg(long, conflicts_with_all = ["detect_host", "detect_loader"])]
    pub no_detect: bool,
}

/// Decides which detection records become events, and renders them.
#[derive(Debug, Default)]
pub struct Detector {
    opts: DetectArgs,
    /// Records dropped because the process is outside the scope.
    pub out_of_scope: AtomicU64,
}

impl Detector {
    /// A detector with the agent's flags.
    pub fn new(opts: DetectArgs) -> Self {
        Self {
            opts,
            out_of_scope: AtomicU64::new(0),
        }
    }

    /// True for ring-buffer records that belong to the detection object.
    pub fn owns(bytes: &[u8]) -> bool {
        bytes.get(..4).is_some_and(|k| {
            u32::from_ne_bytes([k[0], k[1], k[2], k[3]]) == palisade_bpf::detect_events::KIND
        })
    }

    /// Decodes and renders one record; None when it is out of scope or malformed.
    pub fn on_bytes(&self, shared: &Shared, bytes: &[u8]) -> Option<Envelope> {
        let rec = match record::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                shared
                    .counters
                    .decode_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!("dropping detection record: {e}");
                return None;
            }
        };
        let cg = rec.raw.hdr.cgroup_id;
        // a container cgroup not registered yet is in scope: the agent holds the event until
        // the container's identity arrives, as it does for exec events
        let in_container = || {
            shared.containers.get(cg).is_some()
                || shared
                    .resolver
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_container(cg)
        };
        if !self.opts.detect_host && !in_container() {
            self.out_of_scope.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut renderer = shared.renderer.lock().unwrap_or_else(|e| e.into_inner());
        render::event(&mut renderer, &rec)
    }
}
