//! Loads and attaches the process lifecycle tracepoints (`bpf/src/process.bpf.c`).

use std::mem::MaybeUninit;

use anyhow::{Context, Result};
use libbpf_rs::{
    skel::{OpenSkel, Skel, SkelBuilder},
    MapCore, MapFlags, MapHandle, OpenObject,
};
use palisade_bpf::{events::stat, process::ProcessSkel, process::ProcessSkelBuilder};

/// Loads and attaches the process sensor.
pub fn load(obj: &mut MaybeUninit<OpenObject>) -> Result<ProcessSkel<'_>> {
    let open = ProcessSkelBuilder::default().open(obj).context("opening process BPF object")?;
    let mut skel = open.load().context("loading process BPF programs (tracepoints)")?;
    skel.attach().context("attaching process tracepoints")?;
    Ok(skel)
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

/// Reads the per-CPU stats map.
pub fn counters(stats: &MapHandle) -> Result<KernelCounters> {
    let sum = |idx: u32| -> Result<u64> {
        let per_cpu = stats.lookup_percpu(&idx.to_ne_bytes(), MapFlags::ANY)?.unwrap_or_default();
        Ok(per_cpu
            .iter()
            .map(|v| u64::from_ne_bytes(v[..8].try_into().unwrap_or_default()))
            .sum())
    };
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
