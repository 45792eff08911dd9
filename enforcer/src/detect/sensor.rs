//! Loads and attaches `bpf/src/detect.bpf.c` next to the process sensor.

use std::mem::MaybeUninit;

use anyhow::{Context, Result};
use libbpf_rs::{
    btf::{types::Typedef, Btf},
    skel::{OpenSkel, Skel, SkelBuilder},
    MapCore, OpenObject,
};
use palisade_bpf::detect::{DetectSkel, DetectSkelBuilder};

use super::DetectArgs;

/// Which optional hooks the running kernel offers (module tracepoints need CONFIG_MODULES).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DetectHooks {
    /// `module:module_load` attached.
    pub module_load: bool,
    /// `module:module_request` attached.
    pub module_request: bool,
    /// Executable file mappings reported.
    pub loader: bool,
}

/// A tracepoint exists in the running kernel when its BTF has `btf_trace_<name>`.
fn has_tracepoint(btf: Option<&Btf<'_>>, name: &str) -> bool {
    btf.is_some_and(|b| {
        b.type_by_name::<Typedef<'_>>(&format!("btf_trace_{name}"))
            .is_some()
    })
}

/// Loads the detection programs, writing into `ring` and counting in `stats` (the process
/// sensor's ring buffer and counters), and attaches them.
pub fn load<'o>(
    obj: &'o mut MaybeUninit<OpenObject>,
    ring: &impl MapCore,
    stats: &impl MapCore,
    opts: &DetectArgs,
) -> Result<(DetectSkel<'o>, DetectHooks)> {
    let mut open = DetectSkelBuilder::default()
        .open(obj)
        .context("opening detect BPF object")?;
    open.maps
        .events
        .reuse_fd(ring.as_fd())
        .context("sharing the process ring buffer")?;
    open.maps
        .stats
        .reuse_fd(stats.as_fd())
        .context("sharing the process counters")?;
    let btf = Btf::from_vmlinux().ok();
    let hooks = DetectHooks {
        module_load: has_tracepoint(btf.as_ref(), "module_load"),
        module_request: has_tracepoint(btf.as_ref(), "module_request"),
        loader: opts.detect_loader,
    };
    open.progs
        .pal_det_module_load
        .set_autoload(hooks.module_load);
    open.progs
        .pal_det_module_request
        .set_autoload(hooks.module_request);
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.loader_enabled = opts.detect_loader;
    }
    let mut skel = open
        .load()
        .context("loading detect BPF programs (tp_btf)")?;
    skel.attach().context("attaching detect tracepoints")?;
    Ok((skel, hooks))
}

/// [`load`] unless `--no-detect`; a kernel that refuses the object costs the detections only,
/// never the agent (logged, and visible as missing events).
pub fn load_if_enabled<'o>(
    obj: &'o mut MaybeUninit<OpenObject>,
    ring: &impl MapCore,
    stats: &impl MapCore,
    opts: &DetectArgs,
) -> Option<DetectSkel<'o>> {
    if opts.no_detect {
        return None;
    }
    match load(obj, ring, stats, opts) {
        Ok((skel, hooks)) => {
            tracing::info!(?hooks, host = opts.detect_host, "detections attached");
            Some(skel)
        }
        Err(e) => {
            tracing::error!("detections unavailable: {e:#}");
            None
        }
    }
}
