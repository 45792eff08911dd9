//! palisade's BPF objects and the Rust mirrors of the records they emit.
//!
//! Every `src/*.bpf.c` becomes a skeleton module here; `palisade.h` is the single source of the
//! record layouts, mirrored in [`events`].

#![allow(clippy::all)]

pub mod events;

/// Process lifecycle tracepoints (exec, fork, exit): load on any kernel with BTF.
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod process {
    include!(concat!(env!("OUT_DIR"), "/process.skel.rs"));
}

pub mod enforce_events;

/// Inline enforcement: BPF LSM and fmod_ret file/exec hooks, the tracepoint+SIGKILL fallback and
/// cgroup connect/sendmsg programs, sharing one set of policy maps (`enforce.h`). The loader
/// chooses which programs load.
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod enforce {
    include!(concat!(env!("OUT_DIR"), "/enforce.skel.rs"));
}

pub mod detect_events;

/// Hook-based detections from tracepoints (privilege changes, BPF loads, modules, shared
/// libraries, TCP); records go to the process ring buffer, whose fd the loader reuses.
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod detect {
    include!(concat!(env!("OUT_DIR"), "/detect.skel.rs"));
}

/// The same detections from BPF LSM hooks where the kernel runs them (records as `detect`).
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod detect_lsm {
    include!(concat!(env!("OUT_DIR"), "/detect_lsm.skel.rs"));
}

/// Benchmark baseline: do-nothing LSM programs on the hooks palisade uses for open/create/unlink.
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod bench_empty {
    include!(concat!(env!("OUT_DIR"), "/bench_empty.skel.rs"));
}

/// Self-protection: LSM (or fmod_ret) programs that keep contained processes away from
/// palisade's maps, programs, links, pins and agent process (`protect.bpf.c`).
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod protect {
    include!(concat!(env!("OUT_DIR"), "/protect.skel.rs"));
}

/// Benchmark floor on hosts without BPF LSM: do-nothing programs on every tracepoint and cgroup
/// hook the agent attaches there (process, detection, tracepoint-enforcement and network hooks).
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod bench_empty_host {
    include!(concat!(env!("OUT_DIR"), "/bench_empty_host.skel.rs"));
}

/// Fail-closed guard for while the NRI plugin is down: an exec hook (LSM, fmod_ret or the
/// sched_process_exec tracepoint + SIGKILL) refusing unregistered container cgroups, and the
/// agent-exit tracepoint that arms it. Pinned by the agent so it works while no agent runs.
#[allow(
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_qualifications
)]
pub mod guard {
    include!(concat!(env!("OUT_DIR"), "/guard.skel.rs"));
}
