//! Loads and attaches the detections next to the process sensor: `bpf/src/detect_lsm.bpf.c`
//! (BPF LSM hooks) where the kernel runs BPF LSM programs, and `bpf/src/detect.bpf.c`
//! (tracepoints) for whatever the LSM object does not cover (everything, on the dev hosts).

use std::mem::MaybeUninit;

use anyhow::{Context, Result};
use libbpf_rs::{
    btf::{
        types::{Func, Typedef},
        Btf,
    },
    skel::{OpenSkel, Skel, SkelBuilder},
    MapCore, OpenMapMut, OpenObject,
};
use palisade_bpf::{
    detect::{DetectSkel, DetectSkelBuilder},
    detect_events::op,
    detect_lsm::{DetectLsmSkel, DetectLsmSkelBuilder},
};

use super::DetectArgs;

/// Which optional hooks the running kernel offers (module tracepoints need CONFIG_MODULES).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DetectHooks {
    /// `module:module_load` attached.
    pub module_load: bool,
    /// `module:module_request` attached.
    pub module_request: bool,
    /// Executable file mappings reported.
    pub loader: bool,
    /// BPF LSM hooks attached (`lsm/<hook>`); empty where the kernel refuses them.
    pub lsm: Vec<String>,
    /// Why no LSM hook is used, when none is.
    pub lsm_note: Option<String>,
}

/// Storage the loaded objects borrow (libbpf-rs skeletons live as long as their object).
pub struct DetectObjects {
    tp: MaybeUninit<OpenObject>,
    lsm: MaybeUninit<OpenObject>,
}

impl Default for DetectObjects {
    fn default() -> Self {
        Self {
            tp: MaybeUninit::uninit(),
            lsm: MaybeUninit::uninit(),
        }
    }
}

/// The attached detection objects (dropping them detaches).
pub struct Detections<'o> {
    _tp: DetectSkel<'o>,
    _lsm: Option<DetectLsmSkel<'o>>,
    /// What is attached.
    pub hooks: DetectHooks,
}

/// A tracepoint exists in the running kernel when its BTF has `btf_trace_<name>`.
fn has_tracepoint(btf: Option<&Btf<'_>>, name: &str) -> bool {
    btf.is_some_and(|b| {
        b.type_by_name::<Typedef<'_>>(&format!("btf_trace_{name}"))
            .is_some()
    })
}

/// An LSM hook exists when the kernel has its `bpf_lsm_<hook>` attach point.
fn has_lsm_hook(btf: Option<&Btf<'_>>, hook: &str) -> bool {
    btf.is_some_and(|b| {
        b.type_by_name::<Func<'_>>(&format!("bpf_lsm_{hook}"))
            .is_some()
    })
}

/// The detection ops (`1 << op`) reported once these LSM hooks are attached: an op moves to
/// the LSM side only when every hook it needs is there.
fn covered_ops(hooks: &[String]) -> u32 {
    let has = |h: &str| hooks.iter().any(|x| x == h);
    let mut ops = 0u32;
    let mut cover = |op: u32, needs: &[&str]| {
        if needs.iter().all(|h| has(h)) {
            ops |= 1 << op;
        }
    };
    cover(op::SETID, &["task_fix_setuid", "task_fix_setgid"]);
    cover(op::CAPSET, &["capset"]);
    cover(op::USERNS, &["userns_create"]);
    cover(op::BPF_PROG, &["bpf"]);
    cover(
        op::MODULE_SYSCALL,
        &["kernel_read_file", "kernel_load_data"],
    );
    cover(op::MODULE_REQUEST, &["kernel_module_request"]);
    cover(op::LOADER, &["mmap_file"]);
    cover(op::TCP_CONNECT, &["socket_connect"]);
    ops
}

/// Points an object's `events` and `stats` at the process sensor's ring buffer and counters.
fn share(
    events: &mut OpenMapMut<'_>,
    counters: &mut OpenMapMut<'_>,
    ring: &impl MapCore,
    stats: &impl MapCore,
) -> Result<()> {
    events
        .reuse_fd(ring.as_fd())
        .context("sharing the process ring buffer")?;
    counters
        .reuse_fd(stats.as_fd())
        .context("sharing the process counters")?;
    Ok(())
}

fn load_lsm<'o>(
    obj: &'o mut MaybeUninit<OpenObject>,
    ring: &impl MapCore,
    stats: &impl MapCore,
    btf: Option<&Btf<'_>>,
    opts: &DetectArgs,
) -> Result<(DetectLsmSkel<'o>, Vec<String>)> {
    let lsm = crate::enforce::loader::lsm_list().unwrap_or_default();
    if !lsm.split(',').any(|l| l == "bpf") {
        anyhow::bail!("`bpf` is not an active LSM ({lsm})");
    }
    let mut open = DetectLsmSkelBuilder::default()
        .open(obj)
        .context("opening detect_lsm BPF object")?;
    share(&mut open.maps.events, &mut open.maps.stats, ring, stats)?;
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.loader_enabled = opts.detect_loader;
    }
    let mut hooks = Vec::new();
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let hook = name.strip_prefix("pal_dlsm_").unwrap_or(&name).to_owned();
        // a hook this kernel lacks (userns_create before 6.1) costs that detection's LSM
        // variant only: the tracepoint variant stays on for it
        let load = has_lsm_hook(btf, &hook) && (hook != "mmap_file" || opts.detect_loader);
        prog.set_autoload(load);
        if load {
            hooks.push(hook);
        }
    }
    let mut skel = open
        .load()
        .context("loading detect_lsm BPF programs (verifier log: PALISADE_LOG=debug)")?;
    skel.attach().context("attaching detect LSM programs")?;
    Ok((skel, hooks))
}

/// Loads the detection programs, writing into `ring` and counting in `stats` (the process
/// sensor's ring buffer and counters), and attaches them: LSM hooks first where the kernel
/// allows them, then the tracepoints for every operation they do not cover.
pub fn load<'o>(
    objs: &'o mut DetectObjects,
    ring: &impl MapCore,
    stats: &impl MapCore,
    opts: &DetectArgs,
) -> Result<Detections<'o>> {
    let btf = Btf::from_vmlinux().ok();
    let (lsm, lsm_hooks, lsm_note) = match load_lsm(&mut objs.lsm, ring, stats, btf.as_ref(), opts)
    {
        Ok((skel, hooks)) => (Some(skel), hooks, None),
        Err(e) => {
            tracing::info!("detections use tracepoints only: LSM hooks unavailable: {e:#}");
            (None, Vec::new(), Some(format!("{e:#}")))
        }
    };
    let lsm_ops = covered_ops(&lsm_hooks);
    let mut open = DetectSkelBuilder::default()
        .open(&mut objs.tp)
        .context("opening detect BPF object")?;
    share(&mut open.maps.events, &mut open.maps.stats, ring, stats)?;
    let mut hooks = DetectHooks {
        module_load: has_tracepoint(btf.as_ref(), "module_load"),
        module_request: has_tracepoint(btf.as_ref(), "module_request"),
        loader: opts.detect_loader,
        lsm: lsm_hooks.iter().map(|h| format!("lsm/{h}")).collect(),
        lsm_note,
    };
    let tp_request = hooks.module_request && lsm_ops & (1 << op::MODULE_REQUEST) == 0;
    open.progs
        .pal_det_module_load
        .set_autoload(hooks.module_load);
    open.progs.pal_det_module_request.set_autoload(tp_request);
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.loader_enabled = opts.detect_loader;
        ro.lsm_ops = lsm_ops;
    }
    let mut skel = open
        .load()
        .context("loading detect BPF programs (tp_btf)")?;
    skel.attach().context("attaching detect tracepoints")?;
    hooks.module_request |= lsm_ops & (1 << op::MODULE_REQUEST) != 0;
    Ok(Detections {
        _tp: skel,
        _lsm: lsm,
        hooks,
    })
}

/// [`load`] unless `--no-detect`; a kernel that refuses the objects costs the detections only,
/// never the agent (logged, and visible as missing events).
pub fn load_if_enabled<'o>(
    objs: &'o mut DetectObjects,
    ring: &impl MapCore,
    stats: &impl MapCore,
    opts: &DetectArgs,
) -> Option<Detections<'o>> {
    if opts.no_detect {
        return None;
    }
    match load(objs, ring, stats, opts) {
        Ok(d) => {
            tracing::info!(hooks = ?d.hooks, host = opts.detect_host, "detections attached");
            Some(d)
        }
        Err(e) => {
            tracing::error!("detections unavailable: {e:#}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_op_moves_to_lsm_only_with_all_its_hooks() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(covered_ops(&h(&["task_fix_setuid"])), 0);
        assert_eq!(
            covered_ops(&h(&["task_fix_setuid", "task_fix_setgid", "bpf"])),
            1 << op::SETID | 1 << op::BPF_PROG
        );
        assert_eq!(covered_ops(&h(&["kernel_read_file"])), 0);
    }
}
