//! Self-protection (`bpf/src/protect.bpf.c`): while the agent runs, a *contained* process (any
//! process but the agent that is in a child pid or user namespace, or in a mount namespace other
//! than pid 1's) cannot obtain fds of palisade's maps, programs and links, look up, unpin or
//! rename anything under the pin directory, or signal or ptrace the agent, whatever its
//! capabilities (CAP_SYS_ADMIN, CAP_BPF included). Host root keeps full control: it can stop,
//! upgrade and uninstall palisade (systemd, uninstall.sh).
//!
//! What is protected is discovered, not declared: every object pinned under the pin directory
//! and every BPF fd the agent holds, plus the programs of those links and the maps of those
//! programs ([`objects::discover`]), re-walked every [`REFRESH`].
//!
//! The programs are deliberately not pinned: protection lives exactly as long as the agent. A
//! restarted agent that itself runs in a container (the DaemonSet) would otherwise be a
//! contained process to its predecessor's programs and could not adopt the pinned state.

pub mod objects;

use std::{
    mem::MaybeUninit,
    os::unix::fs::MetadataExt,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use anyhow::{bail, Context, Result};
use libbpf_rs::{
    skel::{OpenSkel, Skel, SkelBuilder},
    Link, MapCore, MapFlags, MapHandle, RingBufferBuilder,
};
use palisade_bpf::protect::ProtectSkelBuilder;
use serde::Serialize;

use crate::enforce::Decision;
use objects::kind;

/// How often the protected set is rebuilt (objects pinned later are covered after at most this).
pub const REFRESH: Duration = Duration::from_secs(2);

/// Inode of the initial pid namespace (PROC_PID_INIT_INO, fixed by the kernel).
const INIT_PID_NS: u64 = 0xEFFF_FFFC;

/// Policy name in the events of refusals.
pub const POLICY: &str = "palisade-self-protection";

/// Hook names by `PH_*` number (1-based) in protect.bpf.c.
const HOOKS: [&str; 9] = [
    "bpf_map",
    "bpf_prog",
    "bpf",
    "inode_permission",
    "inode_unlink",
    "inode_rmdir",
    "inode_rename",
    "task_kill",
    "ptrace_access_check",
];

/// Counts of protected objects.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Protected {
    /// Map ids.
    pub maps: Vec<u64>,
    /// Program ids.
    pub progs: Vec<u64>,
    /// Link ids.
    pub links: Vec<u64>,
    /// bpffs inodes (pins and directories).
    pub pins: usize,
}

/// `self_protection` in `palisade status -o json`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// `starting` (armed after everything else loaded), `active`, `disabled`
    /// (`--no-self-protect`) or `unavailable`.
    pub state: &'static str,
    /// `bpf_lsm` or `fmod_ret` when active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<&'static str>,
    /// Why it is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Hooks attached.
    pub hooks: Vec<&'static str>,
    /// The agent's pid (exempt).
    pub agent_pid: u32,
    /// Inode of the host mount namespace (pid 1's).
    pub host_mnt_ns: u64,
    /// What is protected now.
    pub protected: Protected,
    /// Refusals so far.
    pub refusals: u64,
    /// Refusal events lost (ring buffer full); the refusals themselves still happened.
    pub events_lost: u64,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: "starting",
            mechanism: None,
            error: None,
            hooks: Vec::new(),
            agent_pid: 0,
            host_mnt_ns: 0,
            protected: Protected::default(),
            refusals: 0,
            events_lost: 0,
        }
    }
}

static STATUS: Mutex<Option<Status>> = Mutex::new(None);
static STATS: Mutex<Option<MapHandle>> = Mutex::new(None);

fn set_status(f: impl FnOnce(&mut Status)) {
    let mut s = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    f(s.get_or_insert_with(Status::default));
}

/// The current status (counters read from the kernel).
pub fn status() -> Status {
    let mut s = STATUS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    if let Some(stats) = STATS.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        s.refusals = crate::sensors::process::percpu_sum(stats, 0).unwrap_or_default();
        s.events_lost = crate::sensors::process::percpu_sum(stats, 1).unwrap_or_default();
    }
    s
}

/// The `palisade status` line for the JSON `self_protection` value `p`.
pub fn status_line(p: &serde_json::Value) -> String {
    let n = |k: &str| p["protected"][k].as_array().map_or(0, Vec::len);
    match p["state"].as_str() {
        Some("active") => format!(
            "self-protect    {} (inline deny): {} maps, {} programs, {} links, {} pins kept from contained processes; {} refused",
            p["mechanism"].as_str().unwrap_or("?"),
            n("maps"),
            n("progs"),
            n("links"),
            p["protected"]["pins"],
            p["refusals"]
        ),
        Some("disabled") => "self-protect    disabled (--no-self-protect)".into(),
        Some("starting") => "self-protect    not armed yet (the agent is starting)".into(),
        _ => format!(
            "self-protect    UNAVAILABLE: contained root CAN unpin maps and kill the agent ({})",
            p["error"].as_str().unwrap_or("unknown")
        ),
    }
}

/// Records that self-protection was turned off (`--no-self-protect`).
pub fn disabled() {
    set_status(|s| {
        s.state = "disabled";
        s.error = None;
    });
}

/// Loaded self-protection; dropping it detaches the programs.
pub struct Protection {
    _links: Vec<Link>,
    stop: Arc<AtomicBool>,
}

impl Drop for Protection {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Loaded {
    links: Vec<Link>,
    cfg: MapHandle,
    protected: MapHandle,
    events: MapHandle,
    stats: MapHandle,
    hooks: Vec<&'static str>,
}

fn try_load(lsm: bool) -> Result<Loaded> {
    let btf = libbpf_rs::btf::Btf::from_vmlinux().context("reading kernel BTF")?;
    let mut storage = MaybeUninit::uninit();
    let mut open = ProtectSkelBuilder::default()
        .open(&mut storage)
        .context("opening protect BPF object")?;
    let mut hooks = Vec::new();
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let (hook, load) = if let Some(h) = name.strip_prefix("pal_plsm_") {
            (h.to_owned(), lsm)
        } else if let Some(h) = name.strip_prefix("pal_pfmod_") {
            (h.to_owned(), !lsm)
        } else {
            (name.clone(), false)
        };
        // every hook is required: a partial set would be a false sense of protection
        let func = if lsm {
            format!("bpf_lsm_{hook}")
        } else {
            format!("security_{hook}")
        };
        if load
            && btf
                .type_by_name::<libbpf_rs::btf::types::Func<'_>>(&func)
                .is_none()
        {
            bail!("the kernel has no {func}");
        }
        prog.set_autoload(load);
        if load {
            if let Some(h) = HOOKS.iter().find(|x| **x == hook) {
                hooks.push(*h);
            }
        }
    }
    let mut skel = open.load().context("loading self-protection programs")?;
    let mut links = Vec::new();
    for prog in skel.object_mut().progs_mut() {
        if prog.autoload() {
            let name = prog.name().to_string_lossy().into_owned();
            links.push(prog.attach().with_context(|| format!("attaching {name}"))?);
        }
    }
    let m = &skel.maps;
    Ok(Loaded {
        links,
        cfg: MapHandle::try_from(&m.pal_protect_cfg)?,
        protected: MapHandle::try_from(&m.pal_protected)?,
        events: MapHandle::try_from(&m.pal_protect_events)?,
        stats: MapHandle::try_from(&m.pal_protect_stats)?,
        hooks,
    })
}

/// BPF LSM when `bpf` is an active LSM, else fmod_ret.
fn load() -> Result<(Loaded, &'static str)> {
    let lsm_list = crate::enforce::loader::lsm_list().unwrap_or_default();
    let mut notes = Vec::new();
    if lsm_list.split(',').any(|l| l == "bpf") {
        match try_load(true) {
            Ok(l) => return Ok((l, "bpf_lsm")),
            Err(e) => notes.push(format!("bpf_lsm: {e:#}")),
        }
    } else {
        notes.push(format!("bpf_lsm: `bpf` is not an active LSM ({lsm_list})"));
    }
    match try_load(false) {
        Ok(l) => Ok((l, "fmod_ret")),
        Err(e) => {
            notes.push(format!("fmod_ret: {e:#}"));
            bail!("{}", notes.join("; "))
        }
    }
}

/// Writes `found` into the protected map: adds first, then removes what is gone.
fn sync(map: &MapHandle, found: &objects::Found) -> Result<()> {
    for k in &found.keys {
        map.update(&k.to_bytes(), &[1], MapFlags::ANY)
            .context("updating the protected-object map (full?)")?;
    }
    let stale: Vec<Vec<u8>> = map
        .keys()
        .filter(|k| objects::Key::from_bytes(k).is_some_and(|k| !found.keys.contains(&k)))
        .collect();
    for k in stale {
        let _ = map.delete(&k);
    }
    Ok(())
}

fn record_found(found: &objects::Found) {
    set_status(|s| {
        s.protected = Protected {
            maps: found.ids(kind::MAP),
            progs: found.ids(kind::PROG),
            links: found.ids(kind::LINK),
            pins: found.ids(kind::INODE).len(),
        }
    });
}

/// A refusal record (`struct pal_protect_event`) as a decision of policy [`POLICY`].
fn decode(b: &[u8], mechanism: &'static str, pins: &objects::Found) -> Option<Decision> {
    if b.len() < 72 {
        return None;
    }
    let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap_or_default());
    let u64_at = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().unwrap_or_default());
    let hook = HOOKS
        .get((u32_at(24) as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("unknown");
    let (target_kind, id, arg) = (u32_at(28), u64_at(32), u32_at(40));
    let (operation, path) = match target_kind {
        kind::MAP => (
            match arg {
                0 => "bpf_map_fd",
                22 => "bpf_map_freeze",
                3 | 21 | 25 | 27 => "bpf_map_delete",
                _ => "bpf_map_update",
            },
            format!("bpf map {id}"),
        ),
        kind::PROG => ("bpf_prog_fd", format!("bpf prog {id}")),
        kind::LINK => (
            match arg {
                29 => "bpf_link_update",
                34 => "bpf_link_detach",
                _ => "bpf_link_fd",
            },
            format!("bpf link {id}"),
        ),
        kind::INODE => (
            match hook {
                "inode_unlink" | "inode_rmdir" => "unpin",
                "inode_rename" => "rename",
                _ => "pin_access",
            },
            pins.inode_paths
                .get(&id)
                .map_or_else(|| format!("bpffs inode {id}"), |p| p.display().to_string()),
        ),
        _ if hook == "task_kill" => ("kill", format!("pid {id} signal {arg}")),
        _ => ("ptrace", format!("pid {id} mode {arg:#x}")),
    };
    let comm = &b[56..72];
    Some(Decision {
        pid: u32_at(16),
        tid: u32_at(20),
        ktime: u64_at(0),
        cgroup_id: u64_at(8),
        comm: String::from_utf8_lossy(comm.split(|c| *c == 0).next().unwrap_or_default())
            .into_owned(),
        hook,
        operation,
        path,
        path2: String::new(),
        policy: POLICY.into(),
        rule: format!(
            "contained-caller (pid ns level {}, mnt ns {})",
            u32_at(44),
            u32_at(48)
        ),
        action: "deny",
        mechanism,
        prevented: true,
        errno: 1,
        killed: false,
        path_truncated: false,
        audit_mode: false,
        by_inode: target_kind == kind::INODE,
    })
}

/// Loads self-protection, protects what is there now and keeps the set current; refusals go to
/// `on_refusal`. Unavailable (no LSM, no trampolines) is reported in [`status`], not an error.
pub fn start(
    pin_dir: Option<PathBuf>,
    on_refusal: impl Fn(&Decision) + Send + 'static,
) -> Option<Protection> {
    let (loaded, mechanism) = match load() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("self-protection unavailable: {e:#}");
            set_status(|s| {
                s.state = "unavailable";
                s.error = Some(format!("{e:#}"));
            });
            return None;
        }
    };
    match arm(loaded, mechanism, pin_dir, on_refusal) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!("self-protection failed to start: {e:#}");
            set_status(|s| {
                s.state = "unavailable";
                s.error = Some(format!("{e:#}"));
            });
            None
        }
    }
}

fn arm(
    l: Loaded,
    mechanism: &'static str,
    pin_dir: Option<PathBuf>,
    on_refusal: impl Fn(&Decision) + Send + 'static,
) -> Result<Protection> {
    let agent = std::process::id();
    // pid 1 must be the host's init: in a pod without hostPID it would be the pod's, and every
    // host process (kubelet, runc, an admin's shell) would count as contained
    let pidns = std::fs::metadata("/proc/1/ns/pid")
        .context("reading /proc/1/ns/pid")?
        .ino();
    if pidns != INIT_PID_NS {
        bail!("the agent does not run in the host pid namespace (hostPID): pid 1 is not the host's init, so the host's namespaces are unknown");
    }
    let host_mnt = std::fs::metadata("/proc/1/ns/mnt")
        .context("reading the host mount namespace (/proc/1/ns/mnt)")?
        .ino();
    // protected set first, then switch on: no window where the config is on and the set empty
    let found = objects::discover(pin_dir.as_deref())?;
    sync(&l.protected, &found)?;
    let mut cfg = [0u8; 16];
    cfg[..4].copy_from_slice(&1u32.to_ne_bytes());
    cfg[4..8].copy_from_slice(&agent.to_ne_bytes());
    cfg[8..12].copy_from_slice(&(host_mnt as u32).to_ne_bytes());
    l.cfg
        .update(&0u32.to_ne_bytes(), &cfg, MapFlags::ANY)
        .context("writing the self-protection config")?;
    record_found(&found);
    set_status(|s| {
        s.state = "active";
        s.mechanism = Some(mechanism);
        s.error = None;
        s.hooks = l.hooks.clone();
        s.agent_pid = agent;
        s.host_mnt_ns = host_mnt;
    });
    *STATS.lock().unwrap_or_else(|e| e.into_inner()) = Some(l.stats);
    tracing::info!(
        mechanism,
        maps = found.ids(kind::MAP).len(),
        progs = found.ids(kind::PROG).len(),
        links = found.ids(kind::LINK).len(),
        pins = found.inode_paths.len(),
        "self-protection active"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let pins = Arc::new(Mutex::new(found));
    // refresher: objects pinned or loaded later (policies, other components) join the set
    {
        let (stop, pins, map) = (Arc::clone(&stop), Arc::clone(&pins), l.protected);
        std::thread::Builder::new()
            .name("palisade-protect".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(REFRESH);
                    match objects::discover(pin_dir.as_deref()) {
                        Ok(f) => {
                            if let Err(e) = sync(&map, &f) {
                                tracing::warn!("self-protection refresh: {e:#}");
                            }
                            record_found(&f);
                            *pins.lock().unwrap_or_else(|e| e.into_inner()) = f;
                        }
                        Err(e) => tracing::warn!("self-protection refresh: {e:#}"),
                    }
                }
            })
            .context("spawning the self-protection refresher")?;
    }
    // refusal events: the ring buffer is built on its reader thread, which owns the map
    {
        let (stop, events) = (Arc::clone(&stop), l.events);
        std::thread::Builder::new()
            .name("palisade-protect-ev".into())
            .spawn(move || {
                let mut b = RingBufferBuilder::new();
                let added = b
                    .add(&events, move |data: &[u8]| {
                        let found = pins.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(d) = decode(data, mechanism, &found) {
                            drop(found);
                            on_refusal(&d);
                        }
                        0
                    })
                    .map(|_| ());
                let rb = match added.and_then(|()| b.build()) {
                    Ok(rb) => rb,
                    Err(e) => {
                        tracing::error!("self-protection events: {e:#}");
                        return;
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let _ = rb.poll(Duration::from_millis(200));
                }
            })
            .context("spawning the self-protection event reader")?;
    }
    Ok(Protection {
        _links: l.links,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout_round_trips() {
        let k = objects::Key {
            kind: kind::INODE,
            dev: 0x0010_0007,
            id: 1 << 40 | 5,
        };
        assert_eq!(objects::Key::from_bytes(&k.to_bytes()), Some(k));
    }

    #[test]
    fn refusal_record_decodes() {
        let mut b = vec![0u8; 72];
        b[16..20].copy_from_slice(&42u32.to_ne_bytes());
        b[24..28].copy_from_slice(&8u32.to_ne_bytes()); // task_kill
        b[28..32].copy_from_slice(&kind::TASK.to_ne_bytes());
        b[32..40].copy_from_slice(&7u64.to_ne_bytes());
        b[40..44].copy_from_slice(&9u32.to_ne_bytes());
        b[56..60].copy_from_slice(b"kill");
        let d = decode(&b, "bpf_lsm", &objects::Found::default()).expect("decodes");
        assert_eq!(d.hook, "task_kill");
        assert_eq!(d.operation, "kill");
        assert_eq!(d.path, "pid 7 signal 9");
        assert_eq!(d.comm, "kill");
        assert_eq!(d.policy, POLICY);
        assert!(decode(&b[..40], "bpf_lsm", &objects::Found::default()).is_none());
    }
}
