//! Fail-closed guard (`--fail-closed off|audit|deny`) for the window in which the NRI plugin is
//! down: while it is *active*, an exec in a cgroup below one of the runtime's container trees
//! (the guard roots) that palisade has not registered is refused (deny) or reported (audit), so
//! a container started while palisade cannot see it does not run unprotected.
//!
//! The BPF side (`bpf/src/guard.bpf.c`) is pinned under `<pin_dir>/guard/`: it keeps working
//! while no agent runs, and it arms itself when the agent's process exits (a tracepoint on the
//! exit of the agent's thread group), so a SIGKILLed agent leaves the guard active with nobody
//! in userspace. A new agent adopts the pinned maps, attaches its own programs and then replaces
//! the pinned links (an overlap, never a gap), and disarms the guard only once NRI is registered
//! and synchronized again.
//!
//! Known cgroups: every container (annotated or not) at NRI StartContainer and in Synchronize,
//! and every pod sandbox at RunPodSandbox and in Synchronize, marked *before* the runtime is
//! answered; sub-cgroups of a known cgroup count as known. Roots: `--guard-cgroup` (repeatable),
//! the kubelet trees `kubepods.slice` / `kubepods` when they exist, and the tree of every
//! container and sandbox registered over NRI (see [`tree_of`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    mem::MaybeUninit,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use anyhow::{bail, Context, Result};
use libbpf_rs::{
    skel::{OpenSkel, SkelBuilder},
    Link, MapCore, MapFlags, MapHandle, RingBufferBuilder,
};
use palisade_bpf::{
    enforce_events::{self as ev, action, dflags, mechanism},
    events::kind,
    guard::GuardSkelBuilder,
};
use serde::{Deserialize, Serialize};

use crate::enforce::{loader::FileMechanism, Decision};

/// Policy name of guard events.
pub const POLICY: &str = "palisade-fail-closed";
/// Rule name of guard events.
pub const RULE: &str = "unregistered-container";
/// Kubelet's container trees, guarded whenever they exist.
const DEFAULT_ROOTS: [&str; 2] = ["kubepods.slice", "kubepods"];
/// Never taken as an automatic root: guarding them would guard host services.
const HOST_TREES: [&str; 3] = ["system.slice", "user.slice", "init.scope"];

/// What the guard does while active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No guard; a pinned guard left by a previous agent is removed.
    Off,
    /// Unregistered container execs are reported, not refused.
    #[default]
    Audit,
    /// Unregistered container execs are refused (EPERM; SIGKILL on the tracepoint fallback).
    Deny,
}

impl Mode {
    fn raw(self) -> u32 {
        match self {
            Mode::Off => 0,
            Mode::Audit => 1,
            Mode::Deny => 2,
        }
    }
}

/// Guard settings (flags and config file).
#[derive(Debug, Clone, Default)]
pub struct GuardOptions {
    /// `--fail-closed`.
    pub mode: Mode,
    /// `--guard-cgroup`: container trees, absolute or relative to the cgroup2 mount.
    pub roots: Vec<PathBuf>,
}

/// Kind of a known cgroup (map value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A container.
    Container = 1,
    /// A pod sandbox (pause container).
    Sandbox = 2,
}

/// `struct pal_guard_state`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct State {
    mode: u32,
    active: u32,
    agent_tgid: u32,
    mechanism: u32,
    armed_ktime: u64,
    agent_exits: u64,
}
// SAFETY: plain integers, no padding.
unsafe impl plain::Plain for State {}

const ROOT_PATH: usize = 256;

/// The loaded guard, or why there is none.
pub enum Slot {
    /// `--fail-closed off`.
    Off,
    /// Loaded and attached.
    On(Arc<Guard>),
    /// Asked for, but it could not load.
    Failed(String),
}

impl Slot {
    /// The guard, if loaded.
    pub fn get(&self) -> Option<&Arc<Guard>> {
        match self {
            Slot::On(g) => Some(g),
            _ => None,
        }
    }

    /// For `palisade status`.
    pub fn status(&self) -> GuardStatus {
        match self {
            Slot::Off => GuardStatus {
                mode: Mode::Off,
                ..Default::default()
            },
            Slot::On(g) => g.status(),
            Slot::Failed(e) => GuardStatus {
                error: Some(e.clone()),
                ..Default::default()
            },
        }
    }
}

/// The guard's status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GuardStatus {
    /// off, audit or deny.
    pub mode: Mode,
    /// Unregistered container cgroups are guarded right now.
    pub active: bool,
    /// Exec hook: bpf_lsm, fmod_ret, tracepoint_sigkill.
    pub mechanism: String,
    /// Whether a refused exec never happens (false: the new image is SIGKILLed).
    pub prevents: bool,
    /// Pinned (outlives the agent).
    pub pinned: bool,
    /// Maps adopted from a previous agent.
    pub adopted: bool,
    /// Guard roots (container trees).
    pub roots: Vec<String>,
    /// Configured roots that do not exist (yet).
    pub missing_roots: Vec<String>,
    /// Known cgroups (containers and sandboxes).
    pub known: usize,
    /// Times the agent's exit armed the guard.
    pub agent_exits: u64,
    /// Execs refused / audited / killed, records lost.
    pub denied: u64,
    /// Execs reported in audit mode.
    pub audited: u64,
    /// New images SIGKILLed (tracepoint fallback).
    pub killed: u64,
    /// Guard records lost (ring buffer full).
    pub ringbuf_drops: u64,
    /// Why the guard is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why higher rungs were not used.
    pub notes: Vec<String>,
}

/// The guard's maps and links.
pub struct Guard {
    mode: Mode,
    state: MapHandle,
    roots: MapHandle,
    known: MapHandle,
    events: MapHandle,
    stats: MapHandle,
    _links: Vec<Link>,
    mechanism: FileMechanism,
    notes: Vec<String>,
    pinned: bool,
    adopted: bool,
    cg_root: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// runtime id (container id, `pod:<sandbox id>`) -> cgroup id.
    ids: HashMap<String, u64>,
    /// Configured roots not found yet (retried at each registration).
    missing: Vec<PathBuf>,
    /// Automatic roots refused (logged once).
    refused: HashSet<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rung {
    Lsm,
    Fmod,
    Tp,
}

impl Rung {
    fn mechanism(self) -> FileMechanism {
        match self {
            Rung::Lsm => FileMechanism::BpfLsm,
            Rung::Fmod => FileMechanism::FmodRet,
            Rung::Tp => FileMechanism::TracepointKill,
        }
    }
    fn raw(self) -> u32 {
        u32::from(match self {
            Rung::Lsm => mechanism::LSM,
            Rung::Fmod => mechanism::FMOD_RET,
            Rung::Tp => mechanism::TRACEPOINT,
        })
    }
}

struct Loaded {
    maps: [MapHandle; 5],
    links: Vec<Link>,
    adopted: bool,
}

fn try_load(rung: Rung, dir: Option<&Path>) -> Result<Loaded> {
    let mut storage = MaybeUninit::uninit();
    let mut open = GuardSkelBuilder::default()
        .open(&mut storage)
        .context("opening guard BPF object")?;
    open.progs
        .pal_guard_lsm_exec
        .set_autoload(rung == Rung::Lsm);
    open.progs
        .pal_guard_fmod_exec
        .set_autoload(rung == Rung::Fmod);
    open.progs.pal_guard_tp_exec.set_autoload(rung == Rung::Tp);
    let mut adopted = false;
    if let Some(dir) = dir {
        adopted = crate::sensors::process::pin_maps(
            dir,
            [
                ("state", &mut open.maps.pal_guard_state),
                ("roots", &mut open.maps.pal_guard_roots),
                ("known", &mut open.maps.pal_guard_known),
                ("events", &mut open.maps.pal_guard_events),
                ("stats", &mut open.maps.pal_guard_stats),
            ],
        )?;
    }
    let skel = open.load().context("loading guard programs")?;
    let exec = match rung {
        Rung::Lsm => &skel.progs.pal_guard_lsm_exec,
        Rung::Fmod => &skel.progs.pal_guard_fmod_exec,
        Rung::Tp => &skel.progs.pal_guard_tp_exec,
    };
    let mut links = Vec::new();
    for (name, prog) in [("exec", exec), ("exit", &skel.progs.pal_guard_exit)] {
        let mut link = prog
            .attach()
            .with_context(|| format!("attaching guard {name} program"))?;
        if let Some(dir) = dir {
            let path = dir.join(format!("link_{name}"));
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
    let m = &skel.maps;
    Ok(Loaded {
        maps: [
            MapHandle::try_from(&m.pal_guard_state)?,
            MapHandle::try_from(&m.pal_guard_roots)?,
            MapHandle::try_from(&m.pal_guard_known)?,
            MapHandle::try_from(&m.pal_guard_events)?,
            MapHandle::try_from(&m.pal_guard_stats)?,
        ],
        links,
        adopted,
    })
}

/// Loads the guard as configured. `pin_dir` is the agent's pin directory (the guard uses
/// `<pin_dir>/guard`); `nri` says whether the agent waits for an NRI registration (the guard
/// stays active until then).
pub fn load(
    opts: &GuardOptions,
    pin_dir: Option<&Path>,
    cg_root: Option<&Path>,
    nri: bool,
) -> Slot {
    let dir = pin_dir.map(|d| d.join("guard"));
    if opts.mode == Mode::Off {
        if let Some(d) = dir.as_deref().filter(|d| d.exists()) {
            // unpinning drops the previous agent's links: nothing guards any more, as asked
            match std::fs::remove_dir_all(d) {
                Ok(()) => {
                    tracing::info!(dir = %d.display(), "fail-closed guard off: pinned guard removed")
                }
                Err(e) => tracing::error!(
                    "fail-closed guard off, but removing {} failed: {e}",
                    d.display()
                ),
            }
        }
        return Slot::Off;
    }
    match Guard::load(opts, dir.as_deref(), cg_root, nri) {
        Ok(g) => Slot::On(Arc::new(g)),
        Err(e) => {
            tracing::error!("fail-closed guard unavailable: {e:#}");
            Slot::Failed(format!("{e:#}"))
        }
    }
}

impl Guard {
    fn load(
        opts: &GuardOptions,
        dir: Option<&Path>,
        cg_root: Option<&Path>,
        nri: bool,
    ) -> Result<Self> {
        let cg_root = cg_root
            .context("the guard needs cgroup v2 (none mounted)")?
            .to_owned();
        if let Some(d) = dir {
            std::fs::create_dir_all(d)
                .with_context(|| format!("creating pin directory {}", d.display()))?;
        }
        let lsm = crate::enforce::loader::lsm_list().unwrap_or_default();
        let mut notes = Vec::new();
        let mut found = None;
        for rung in [Rung::Lsm, Rung::Fmod, Rung::Tp] {
            if rung == Rung::Lsm && !lsm.split(',').any(|l| l == "bpf") {
                notes.push(format!("bpf_lsm: `bpf` is not an active LSM ({lsm})"));
                continue;
            }
            match try_load(rung, dir) {
                Ok(l) => {
                    found = Some((rung, l));
                    break;
                }
                Err(e) => notes.push(format!("{}: {e:#}", rung.mechanism().as_str())),
            }
        }
        let Some((rung, l)) = found else {
            bail!("no exec hook loads: {}", notes.join("; "));
        };
        let [state, roots, known, events, stats] = l.maps;
        let g = Guard {
            mode: opts.mode,
            state,
            roots,
            known,
            events,
            stats,
            _links: l.links,
            mechanism: rung.mechanism(),
            notes,
            pinned: dir.is_some(),
            adopted: l.adopted,
            cg_root,
            inner: Mutex::new(Inner::default()),
        };
        let mut st = g.read_state()?;
        st.mode = opts.mode.raw();
        st.mechanism = rung.raw();
        st.agent_tgid = std::process::id();
        // adopted: keep whatever the previous agent's exit left (armed); fresh: armed until NRI
        // is registered and synchronized, unarmed without NRI (nothing to wait for)
        if !l.adopted {
            st.active = u32::from(nri);
        } else if !nri {
            st.active = 0;
        }
        g.write_state(&st)?;
        let mut wanted: Vec<PathBuf> = opts.roots.clone();
        wanted.extend(
            DEFAULT_ROOTS
                .iter()
                .map(PathBuf::from)
                .filter(|r| g.cg_root.join(r).is_dir()),
        );
        for r in wanted {
            let abs = if r.starts_with(&g.cg_root) {
                r
            } else {
                g.cg_root.join(r.strip_prefix("/").unwrap_or(&r))
            };
            if abs.is_dir() {
                g.add_root(&abs)?;
            } else {
                tracing::warn!(root = %abs.display(), "guard root does not exist yet; retried at each registration");
                lock(&g.inner).missing.push(abs);
            }
        }
        if !g.mechanism.prevents() {
            tracing::warn!("fail-closed guard falls back to sched_process_exec + SIGKILL: an unregistered container's new image is killed before its first instruction, but its exec is not refused");
        }
        tracing::info!(mode = ?g.mode, mechanism = g.mechanism.as_str(), adopted = g.adopted, active = st.active, "fail-closed guard loaded");
        Ok(g)
    }

    fn read_state(&self) -> Result<State> {
        let v = self
            .state
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)?
            .context("guard state slot missing")?;
        let mut s = State::default();
        plain::copy_from_bytes(&mut s, &v).map_err(|_| anyhow::anyhow!("guard state size"))?;
        Ok(s)
    }

    fn write_state(&self, s: &State) -> Result<()> {
        // SAFETY: State is plain data.
        let bytes = unsafe { plain::as_bytes(s) };
        self.state
            .update(&0u32.to_ne_bytes(), bytes, MapFlags::ANY)
            .context("writing guard state")
    }

    /// Arms (the plugin is down) or disarms (registered and synchronized) the guard.
    pub fn set_active(&self, active: bool) {
        let _g = lock(&self.inner);
        let res = self.read_state().and_then(|mut s| {
            s.active = u32::from(active);
            self.write_state(&s)
        });
        match res {
            Ok(()) => tracing::info!(active, "fail-closed guard"),
            Err(e) => tracing::error!("setting the fail-closed guard active={active}: {e:#}"),
        }
    }

    fn add_root(&self, dir: &Path) -> Result<()> {
        let id = palisade_nri::cgroup_id(dir)
            .with_context(|| format!("guard root {}", dir.display()))?;
        if self
            .roots
            .lookup(&id.to_ne_bytes(), MapFlags::ANY)?
            .is_some()
        {
            return Ok(());
        }
        let mut v = [0u8; ROOT_PATH];
        let s = dir.as_os_str().as_encoded_bytes();
        let n = s.len().min(ROOT_PATH - 1);
        v[..n].copy_from_slice(&s[..n]);
        self.roots
            .update(&id.to_ne_bytes(), &v, MapFlags::ANY)
            .with_context(|| format!("adding guard root {} (at most 64)", dir.display()))?;
        tracing::info!(root = %dir.display(), "fail-closed guard root");
        Ok(())
    }

    /// Marks a registered container or sandbox cgroup as known and guards its tree. Called
    /// before the runtime is answered.
    pub fn mark(&self, key: &str, dir: &Path, id: u64, kind: Kind) {
        let mut inner = lock(&self.inner);
        if let Err(e) = self
            .known
            .update(&id.to_ne_bytes(), &[kind as u8], MapFlags::ANY)
        {
            // only matters while the agent is down; then this one is refused: fail closed
            tracing::error!(
                key,
                cgroup_id = id,
                "guard: marking a known cgroup failed: {e}"
            );
        }
        inner.ids.insert(key.to_owned(), id);
        let missing = std::mem::take(&mut inner.missing);
        for m in missing {
            if m.is_dir() {
                if let Err(e) = self.add_root(&m) {
                    tracing::warn!("{e:#}");
                }
            } else {
                inner.missing.push(m);
            }
        }
        match tree_of(&self.cg_root, dir) {
            Some(t) => {
                if let Err(e) = self.add_root(&t) {
                    tracing::warn!("{e:#}");
                }
            }
            None => {
                if let Some(p) = dir.parent() {
                    if inner.refused.insert(p.to_owned()) {
                        tracing::warn!(tree = %p.display(), "not guarding this container tree automatically (host services live there); add it with --guard-cgroup if it holds only containers");
                    }
                }
            }
        }
    }

    /// Forgets a container or sandbox (removed by the runtime).
    pub fn forget(&self, key: &str) {
        let mut inner = lock(&self.inner);
        if let Some(id) = inner.ids.remove(key) {
            let _ = self.known.delete(&id.to_ne_bytes());
        }
    }

    /// After a (re)connect: `entries` (key, dir, cgroup id, kind) is everything the runtime
    /// runs. Added first, stale entries removed after, so nothing running is ever unknown.
    pub fn sync(&self, entries: &[(String, PathBuf, u64, Kind)]) {
        for (key, dir, id, kind) in entries {
            self.mark(key, dir, *id, *kind);
        }
        let keep: HashSet<u64> = entries.iter().map(|e| e.2).collect();
        let stale: Vec<Vec<u8>> = self
            .known
            .keys()
            .filter(|k| {
                k.as_slice()
                    .try_into()
                    .map(u64::from_ne_bytes)
                    .is_ok_and(|id| !keep.contains(&id))
            })
            .collect();
        for k in &stale {
            let _ = self.known.delete(k);
        }
        let mut inner = lock(&self.inner);
        inner.ids = entries.iter().map(|e| (e.0.clone(), e.2)).collect();
        tracing::info!(
            known = keep.len(),
            removed = stale.len(),
            "fail-closed guard synchronized"
        );
    }

    /// The status.
    pub fn status(&self) -> GuardStatus {
        let st = self.read_state().unwrap_or_default();
        let sum = |i: u32| crate::sensors::process::percpu_sum(&self.stats, i).unwrap_or(0);
        let mut roots: Vec<String> = self
            .roots
            .keys()
            .filter_map(|k| self.roots.lookup(&k, MapFlags::ANY).ok().flatten())
            .map(|v| {
                let n = v.iter().position(|b| *b == 0).unwrap_or(v.len());
                String::from_utf8_lossy(&v[..n]).into_owned()
            })
            .collect();
        roots.sort();
        GuardStatus {
            mode: self.mode,
            active: st.active != 0,
            mechanism: self.mechanism.as_str().into(),
            prevents: self.mechanism.prevents(),
            pinned: self.pinned,
            adopted: self.adopted,
            roots,
            missing_roots: lock(&self.inner)
                .missing
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            known: self.known.keys().count(),
            agent_exits: st.agent_exits,
            denied: sum(2),
            audited: sum(3),
            killed: sum(4),
            ringbuf_drops: sum(1),
            error: None,
            notes: self.notes.clone(),
        }
    }

    /// Starts a thread that drains the guard's ring buffer (records from while no agent ran
    /// first) into a channel of decisions, named `palisade-fail-closed`.
    pub fn decisions(&self) -> Result<tokio::sync::mpsc::Receiver<Decision>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        let map = MapHandle::try_from(&self.events).context("duplicating guard ring buffer")?;
        let cg_root = self.cg_root.clone();
        std::thread::Builder::new()
            .name("palisade-guard".into())
            .spawn(move || {
                let tx2 = tx.clone();
                let mut paths = CgroupPaths::new(cg_root);
                let mut b = RingBufferBuilder::new();
                if let Err(e) = b.add(&map, move |data: &[u8]| {
                    if let Some(d) = decode(data, &mut paths) {
                        if tx2.blocking_send(d).is_err() {
                            return -1;
                        }
                    }
                    0
                }) {
                    tracing::error!("guard ring buffer: {e:#}");
                    return;
                }
                crate::enforce::decision::drain_until_closed(b, &tx, "guard ring buffer");
            })
            .context("spawning the guard reader")?;
        Ok(rx)
    }
}

/// The container tree a registered cgroup belongs to: the topmost `kubepods*` ancestor for
/// Kubernetes (every QoS class and pod below it), else the cgroup's parent (`/k8s.io` for
/// containerd's cgroupfs default) — unless that is the cgroup2 root or a host tree
/// (`system.slice`, `user.slice`, `init.scope`), which is never guarded automatically.
pub fn tree_of(cg_root: &Path, dir: &Path) -> Option<PathBuf> {
    let rel = dir.strip_prefix(cg_root).ok()?;
    let comps: Vec<_> = rel.components().collect();
    if let Some(i) = comps
        .iter()
        .position(|c| c.as_os_str().to_string_lossy().starts_with("kubepods"))
    {
        if i + 1 < comps.len() {
            return Some(cg_root.join(comps[..=i].iter().collect::<PathBuf>()));
        }
    }
    if comps.len() < 2 {
        return None;
    }
    let parent: PathBuf = comps[..comps.len() - 1].iter().collect();
    let top = comps[0].as_os_str().to_string_lossy();
    if HOST_TREES.contains(&top.as_ref()) {
        return None;
    }
    Some(cg_root.join(parent))
}

/// cgroup id -> path, by walking the cgroup2 tree (a few levels) on a miss.
struct CgroupPaths {
    root: PathBuf,
    cache: BTreeMap<u64, PathBuf>,
}

impl CgroupPaths {
    fn new(root: PathBuf) -> Self {
        Self {
            root,
            cache: BTreeMap::new(),
        }
    }

    fn get(&mut self, id: u64) -> Option<PathBuf> {
        if let Some(p) = self.cache.get(&id) {
            return Some(p.clone());
        }
        let mut stack = vec![(self.root.clone(), 0)];
        while let Some((d, depth)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let p = e.path();
                if palisade_nri::cgroup_id(&p).is_ok_and(|i| i == id) {
                    if self.cache.len() > 4096 {
                        self.cache.clear();
                    }
                    self.cache.insert(id, p.clone());
                    return Some(p);
                }
                if depth < 6 {
                    stack.push((p, depth + 1));
                }
            }
        }
        None
    }
}

fn decode(bytes: &[u8], paths: &mut CgroupPaths) -> Option<Decision> {
    let r: ev::Decision = palisade_bpf::events::read(bytes)?;
    if r.hdr.kind != kind::ENFORCE {
        return None;
    }
    let n = (r.path_len as usize).min(r.path.len());
    let mechanism = match r.mechanism {
        mechanism::LSM => FileMechanism::BpfLsm,
        mechanism::FMOD_RET => FileMechanism::FmodRet,
        _ => FileMechanism::TracepointKill,
    };
    let hook = if r.hook == 0 {
        "sched_process_exec"
    } else {
        ev::HOOKS
            .get((r.hook as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("unknown")
    };
    Some(Decision {
        pid: r.hdr.pid,
        tid: r.hdr.tid,
        ktime: r.hdr.ktime,
        cgroup_id: r.hdr.cgroup_id,
        comm: String::from_utf8_lossy(r.comm.split(|b| *b == 0).next().unwrap_or_default())
            .into_owned(),
        hook,
        operation: "exec",
        path: String::from_utf8_lossy(&r.path[..n]).into_owned(),
        // the unregistered cgroup, when it still exists (the process may be long gone)
        path2: paths
            .get(r.hdr.cgroup_id)
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        policy: POLICY.into(),
        rule: RULE.into(),
        action: if r.action == action::DENY {
            "deny"
        } else {
            "audit"
        },
        mechanism: mechanism.as_str(),
        prevented: r.prevented != 0,
        errno: -r.err,
        killed: r.flags & dflags::KILLED != 0,
        path_truncated: r.flags & dflags::TRUNC_PATH != 0,
        audit_mode: false,
        by_inode: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees() {
        let r = Path::new("/sys/fs/cgroup");
        let t = |p: &str| tree_of(r, &r.join(p)).map(|p| p.display().to_string());
        assert_eq!(t("k8s.io/abc"), Some("/sys/fs/cgroup/k8s.io".into()));
        assert_eq!(
            t("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-x.scope"),
            Some("/sys/fs/cgroup/kubepods.slice".into())
        );
        assert_eq!(
            t("kubepods/besteffort/pod1/abc"),
            Some("/sys/fs/cgroup/kubepods".into())
        );
        assert_eq!(t("system.slice/docker-x.scope"), None);
        assert_eq!(t("abc"), None);
        assert_eq!(t("default/abc"), Some("/sys/fs/cgroup/default".into()));
    }

    #[test]
    fn state_layout_matches_c() {
        assert_eq!(std::mem::size_of::<State>(), 32);
    }
}
