//! Loads and attaches the process lifecycle tracepoints (`bpf/src/process.bpf.c`), optionally
//! pinned under a bpffs directory so that they outlive the agent.
//!
//! Pinned: the ring buffer, the process map, the counters and the links. While no agent runs,
//! the pinned links keep recording into the pinned ring buffer (8 MiB, about 20,000 exec
//! records); the next agent reuses the maps, drains the backlog first, and the kernel counts
//! whatever did not fit (`ringbuf_drops`). A new agent attaches its programs before it drops
//! the previous agent's links: there is an overlap (events may appear twice for a few
//! milliseconds), never a gap.

use std::{
    mem::MaybeUninit,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use libbpf_rs::{
    skel::{OpenSkel, SkelBuilder},
    Link, MapCore, MapFlags, MapHandle, OpenObject,
};
use palisade_bpf::{events::stat, process::ProcessSkel, process::ProcessSkelBuilder};

/// The loaded sensor; dropping it detaches unpinned links.
pub struct ProcessSensor<'obj> {
    /// The skeleton (maps).
    pub skel: ProcessSkel<'obj>,
    _links: Vec<Link>,
    /// Records left by a previous agent were found in the pinned ring buffer.
    pub adopted: bool,
}

/// Loads and attaches the process sensor, pinning it under `pin_dir` when given.
pub fn load<'obj>(
    obj: &'obj mut MaybeUninit<OpenObject>,
    pin_dir: Option<&Path>,
) -> Result<ProcessSensor<'obj>> {
    let mut open = ProcessSkelBuilder::default()
        .open(obj)
        .context("opening process BPF object")?;
    let mut adopted = false;
    if let Some(dir) = pin_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating pin directory {}", dir.display()))?;
        adopted = pin_maps(
            dir,
            [
                ("events", &mut open.maps.events),
                ("procs", &mut open.maps.procs),
                ("stats", &mut open.maps.stats),
            ],
        )?;
    }
    let skel = open
        .load()
        .context("loading process BPF programs (tracepoints)")?;
    let mut links = Vec::new();
    for (name, prog) in [
        ("pal_exec", &skel.progs.pal_exec),
        ("pal_fork", &skel.progs.pal_fork),
        ("pal_exit", &skel.progs.pal_exit),
    ] {
        let mut link = prog.attach().with_context(|| format!("attaching {name}"))?;
        if let Some(dir) = pin_dir {
            let path = link_pin(dir, name);
            // the previous agent's link goes only now that ours is attached: overlap, no gap
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("replacing {}", path.display()))?;
            }
            link.pin(&path)
                .with_context(|| format!("pinning {}", path.display()))?;
        }
        links.push(link);
    }
    Ok(ProcessSensor {
        skel,
        _links: links,
        adopted,
    })
}

fn link_pin(dir: &Path, prog: &str) -> PathBuf {
    dir.join(format!("link_{prog}"))
}

/// Kernel-side counters, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct KernelCounters {
    /// Records written to the ring buffer.
    pub events: u64,
    /// Records lost because the ring buffer was full.
    pub ringbuf_drops: u64,
    /// Process-map updates refused.
    pub proc_map_full: u64,
}

/// Sums slot `idx` of a per-CPU array of u64 counters over all CPUs.
pub fn percpu_sum(map: &MapHandle, idx: u32) -> Result<u64> {
    let per_cpu = map
        .lookup_percpu(&idx.to_ne_bytes(), MapFlags::ANY)?
        .unwrap_or_default();
    Ok(per_cpu
        .iter()
        .map(|v| u64::from_ne_bytes(v[..8].try_into().unwrap_or_default()))
        .sum())
}

/// Reads the per-CPU stats map.
pub fn counters(stats: &MapHandle) -> Result<KernelCounters> {
    let sum = |idx: u32| percpu_sum(stats, idx);
    Ok(KernelCounters {
        events: sum(stat::EVENTS)?,
        ringbuf_drops: sum(stat::RB_DROPS)?,
        proc_map_full: sum(stat::PROC_MAP_FULL)?,
    })
}

/// A `Send` handle on the stats map, for readers outside the loading thread.
pub fn stats_handle(skel: &ProcessSkel<'_>) -> Result<MapHandle> {
    MapHandle::try_from(&skel.maps.stats).context("duplicating stats map fd")
}

/// Points each map at `dir/<name>` before load: libbpf reuses a compatible pinned map, or
/// creates and pins a new one. True when any of them was pinned already (state to adopt).
pub(crate) fn pin_maps<'a, const N: usize>(
    dir: &Path,
    maps: [(&str, &mut libbpf_rs::OpenMapMut<'a>); N],
) -> Result<bool> {
    let mut adopted = false;
    for (name, map) in maps {
        let path = dir.join(name);
        adopted |= path.exists();
        map.set_pin_path(&path)
            .with_context(|| format!("pin path {}", path.display()))?;
    }
    Ok(adopted)
}
