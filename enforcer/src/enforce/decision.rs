//! Decision records from the kernel, as plain Rust values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::{MapHandle, RingBufferBuilder};
use palisade_bpf::enforce_events::{self as ev, action, dflags, mechanism, HOOKS, RULE_NONE};
use palisade_bpf::events::kind;
use serde::Serialize;

use super::loader::FileMechanism;
use super::Names;
use crate::policy::model::Operation;

/// One enforcement decision (deny, deny-and-kill or audit) made in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Thread-group id (host pid namespace).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// CLOCK_MONOTONIC ns.
    pub ktime: u64,
    /// cgroup v2 id of the acting task.
    pub cgroup_id: u64,
    /// Task comm.
    pub comm: String,
    /// Hook that acted (`path_unlink`, `file_open`, `connect4`, ...).
    pub hook: &'static str,
    /// Policy operation (`unlink`, `write`, `connect`, ...).
    pub operation: &'static str,
    /// Path (or `addr:port` for connect).
    pub path: String,
    /// Second path (rename/link target), empty otherwise.
    pub path2: String,
    /// Policy name.
    pub policy: String,
    /// Rule name (`defaultAction` when the default acted, `path-unresolvable` when failing closed).
    pub rule: String,
    /// `deny`, `deny-and-kill` or `audit`.
    pub action: &'static str,
    /// `bpf_lsm`, `fmod_ret`, `tracepoint_sigkill` or `cgroup_sock_addr`.
    pub mechanism: &'static str,
    /// Whether the operation did not happen.
    pub prevented: bool,
    /// Errno returned to the caller (EPERM) or 0.
    pub errno: i32,
    /// SIGKILL was sent.
    pub killed: bool,
    /// The path could not be resolved completely and the decision failed closed.
    pub path_truncated: bool,
    /// A deny was downgraded to audit by the binding's or the policy's audit mode.
    pub audit_mode: bool,
    /// Matched through the file's identity: a hard link of a protected file.
    pub by_inode: bool,
}

fn cstr(b: &[u8], len: u16) -> String {
    let n = (len as usize).min(b.len());
    String::from_utf8_lossy(&b[..n]).into_owned()
}

fn action_name(a: u8) -> &'static str {
    match a {
        action::DENY => "deny",
        action::KILL => "deny-and-kill",
        action::AUDIT => "audit",
        action::ALLOW => "allow",
        _ => "none",
    }
}

fn mechanism_name(m: u8) -> &'static str {
    match m {
        mechanism::LSM => FileMechanism::BpfLsm.as_str(),
        mechanism::FMOD_RET => FileMechanism::FmodRet.as_str(),
        mechanism::TRACEPOINT => FileMechanism::TracepointKill.as_str(),
        mechanism::CGROUP => "cgroup_sock_addr",
        _ => "unknown",
    }
}

impl Decision {
    /// Decodes a ring-buffer record; `None` for other kinds or short records.
    pub(crate) fn from_record(bytes: &[u8], names: &Names) -> Option<Self> {
        let r: ev::Decision = palisade_bpf::events::read(bytes)?;
        if r.hdr.kind != kind::ENFORCE {
            return None;
        }
        let (policy, rules) = names
            .sets
            .get(&r.set_id)
            .cloned()
            .unwrap_or_else(|| (format!("set-{}", r.set_id), Vec::new()));
        let rule = if r.flags & dflags::MOUNT_GUARD != 0 {
            "bind-mount-guard".to_string()
        } else if r.flags & dflags::TRUNC_PATH != 0 {
            "path-unresolvable".to_string()
        } else if r.flags & dflags::DEFAULT != 0 || r.rule == RULE_NONE {
            "defaultAction".to_string()
        } else {
            rules
                .get(r.rule as usize)
                .cloned()
                .unwrap_or_else(|| format!("rule-{}", r.rule))
        };
        let path = if r.family != 0 {
            let ip: IpAddr = if r.family == 4 {
                Ipv4Addr::new(r.addr[0], r.addr[1], r.addr[2], r.addr[3]).into()
            } else {
                Ipv6Addr::from(r.addr).into()
            };
            match ip {
                IpAddr::V4(_) => format!("{ip}:{}", r.port),
                IpAddr::V6(_) => format!("[{ip}]:{}", r.port),
            }
        } else {
            cstr(&r.path, r.path_len)
        };
        Some(Self {
            pid: r.hdr.pid,
            tid: r.hdr.tid,
            ktime: r.hdr.ktime,
            cgroup_id: r.hdr.cgroup_id,
            comm: String::from_utf8_lossy(r.comm.split(|b| *b == 0).next().unwrap_or_default())
                .into_owned(),
            hook: HOOKS
                .get((r.hook as usize).wrapping_sub(1))
                .copied()
                .unwrap_or("unknown"),
            operation: if r.op == ev::OP_MOUNT {
                "mount"
            } else {
                Operation::ALL
                    .get(r.op as usize)
                    .map(|o| o.as_str())
                    .unwrap_or("unknown")
            },
            path,
            path2: cstr(&r.path2, r.path2_len),
            policy,
            rule,
            action: action_name(r.action),
            mechanism: mechanism_name(r.mechanism),
            prevented: r.prevented != 0,
            errno: -r.err,
            killed: r.flags & dflags::KILLED != 0,
            path_truncated: r.flags & dflags::TRUNC_PATH != 0,
            audit_mode: r.flags & dflags::AUDIT_MODE != 0,
            by_inode: r.flags & dflags::INODE != 0,
        })
    }
}

/// Starts a thread that drains the decisions ring buffer (and `old`, a previous agent's ring
/// buffer still holding records from while no agent ran) into a channel. It stops when the
/// receiver is dropped.
pub(crate) fn spawn_reader(
    map: &MapHandle,
    old: Option<&MapHandle>,
    names: Arc<RwLock<Names>>,
    _file: FileMechanism,
) -> Result<tokio::sync::mpsc::Receiver<Decision>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    let map = MapHandle::try_from(map).context("duplicating decisions ring buffer fd")?;
    let old = old
        .map(MapHandle::try_from)
        .transpose()
        .context("duplicating the previous decisions ring buffer fd")?;
    std::thread::Builder::new()
        .name("palisade-decisions".into())
        .spawn(move || {
            let handler = |names: Arc<RwLock<Names>>, tx: tokio::sync::mpsc::Sender<Decision>| {
                move |data: &[u8]| {
                    let names = names.read().expect("names");
                    if let Some(d) = Decision::from_record(data, &names) {
                        if tx.blocking_send(d).is_err() {
                            return -1; // receiver gone: stop
                        }
                    }
                    0
                }
            };
            let mut b = RingBufferBuilder::new();
            // the previous agent's records first (same set ids, same names)
            for m in old.iter().chain([&map]) {
                if let Err(e) = b.add(m, handler(Arc::clone(&names), tx.clone())) {
                    tracing::error!("decision ring buffer: {e:#}");
                    return;
                }
            }
            drain_until_closed(b, &tx, "decision ring buffer");
        })
        .context("spawning the decision reader")?;
    Ok(rx)
}

/// Builds `b` and polls it on this (dedicated) thread until the receiving side of `tx` is gone;
/// `what` names the ring buffer in the error logged when it cannot be built.
pub(crate) fn drain_until_closed<T>(
    b: libbpf_rs::RingBufferBuilder<'_, '_>,
    tx: &tokio::sync::mpsc::Sender<T>,
    what: &str,
) {
    let rb = match b.build() {
        Ok(rb) => rb,
        Err(e) => {
            tracing::error!("{what}: {e:#}");
            return;
        }
    };
    while !tx.is_closed() {
        if rb.poll(Duration::from_millis(100)).is_err() && tx.is_closed() {
            break;
        }
    }
}

/// Enforcement counters, summed over CPUs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counters {
    /// Decision records written.
    pub decisions: u64,
    /// Records lost (ring buffer full); the decisions themselves were still enforced.
    pub ringbuf_drops: u64,
    /// Paths that could not be resolved (failed closed where a rule could deny).
    pub unresolvable_paths: u64,
}

pub(crate) fn counters(stats: &MapHandle) -> Result<Counters> {
    let sum = |idx: u32| crate::sensors::process::percpu_sum(stats, idx);
    Ok(Counters {
        decisions: sum(0)?,
        ringbuf_drops: sum(1)?,
        unresolvable_paths: sum(2)?,
    })
}
