//! Inline enforcement engine: compiles policies into BPF maps, binds them to cgroups, and
//! reports every decision the kernel makes.
//!
//! Lifecycle without a gap: [`Enforcer::apply`] writes a policy under a *new* set id (nothing
//! references it yet), [`Enforcer::bind_cgroup`] flips a cgroup to its new list of sets with one
//! map update (the value is replaced whole, RCU-freed, so a hook sees either the old list or the
//! new one), and [`Enforcer::remove`] deletes a set's entries only after no binding names it and
//! a grace period has passed for hooks that read the old binding just before the flip.

pub mod cgroup;
pub mod compile;
pub mod decision;
pub mod identity;
pub mod loader;
pub(crate) mod persist;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use libbpf_rs::{Link, MapCore, MapFlags, MapHandle};
use palisade_bpf::enforce_events::{
    bind_mode, bytes_of, trie_kind, Binding, TrieKey, TrieVal, SETS, SET_ANY,
};

pub use decision::Decision;
pub use loader::{Adoption, Force, Mechanisms};

use crate::policy::model::Policy;

/// Options of [`Enforcer::load`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force a rung of the mechanism ladder (lab tests of the fallbacks).
    pub force: Force,
    /// bpffs directory: pin maps and links under `<pin_dir>/enforce/` so that enforcement
    /// outlives the agent, and take over what a previous agent pinned there. None: nothing
    /// outlives this process.
    pub pin_dir: Option<PathBuf>,
    /// Take over pinned state through the migrate path (fresh maps, every policy and binding
    /// re-written) even when the pinned maps could be reused: tests of the upgrade path.
    pub force_migrate: bool,
}

/// A policy taken over from a previous agent's pinned state.
#[derive(Debug, Clone)]
pub struct AdoptedPolicy {
    /// Its set id (unchanged).
    pub handle: PolicyHandle,
    /// Where the previous agent got it from.
    pub source: String,
    /// The policy.
    pub policy: Policy,
}

/// A binding taken over from a previous agent.
#[derive(Debug, Clone)]
pub struct AdoptedBinding {
    /// cgroup id.
    pub cgroup_id: u64,
    /// Its policies, in order.
    pub handles: Vec<PolicyHandle>,
    /// Its mode.
    pub mode: BindMode,
}

/// A policy written into the maps (its set id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyHandle(u32);

impl PolicyHandle {
    /// The kernel set id (appears in decision records).
    pub fn set_id(self) -> u32 {
        self.0
    }
}

/// How a binding treats denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMode {
    /// Denies are denied.
    #[default]
    Enforce,
    /// Denies are reported only.
    Audit,
}

/// Names the decision reader needs to turn set/rule numbers into policy/rule names.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// set id -> (policy name, rule names)
    pub sets: HashMap<u32, (String, Vec<String>)>,
}

struct Applied {
    compiled: compile::Compiled,
}

/// Grace period before a set's entries are deleted: hooks never sleep, so any hook that read a
/// binding naming the set finished long before this.
const GRACE: Duration = Duration::from_millis(50);

/// The loaded enforcement programs and the policies written into their maps.
pub struct Enforcer {
    links: Vec<(String, Link)>,
    maps: loader::Maps,
    mechanisms: Mechanisms,
    names: Arc<RwLock<Names>>,
    state: Mutex<State>,
    reader_started: Mutex<bool>,
    /// Pinned metadata (policy records), when pinning.
    meta: Option<MapHandle>,
    /// Migrate path: the previous agent's ring buffer, drained by the decision reader.
    old_decisions: Option<MapHandle>,
    /// Migrate path: the previous agent's counters (decisions and drops while no agent ran).
    carried: decision::Counters,
    adopted: Vec<AdoptedPolicy>,
    adopted_bindings: Vec<AdoptedBinding>,
}

#[derive(Default)]
struct State {
    next_set: u32,
    applied: HashMap<u32, Applied>,
    bindings: HashMap<u64, (Vec<PolicyHandle>, BindMode)>,
    /// Protected names under `SET_ANY` (what the path_link hook records aliases for), counted
    /// by how many applied sets name them.
    any_nodes: HashMap<Vec<u8>, usize>,
}

/// The `SET_ANY` copies of a set's forward path nodes (not its root: that would make every
/// file "protected" for alias recording).
fn any_nodes(c: &compile::Compiled) -> Vec<TrieKey> {
    c.trie
        .iter()
        .filter(|(k, _)| k.scope & 3 == trie_kind::PATH && k.prefixlen > 32)
        .map(|(k, _)| TrieKey {
            scope: SET_ANY << 2 | trie_kind::PATH,
            ..*k
        })
        .collect()
}

impl Enforcer {
    /// Probes the kernel, loads and attaches the best mechanism (see [`loader`]); with a pin
    /// directory, takes over what a previous agent pinned there without a moment unenforced
    /// (see [`persist`]) and pins its own programs and maps.
    pub fn load(opts: Options) -> Result<Self> {
        let pins = opts
            .pin_dir
            .as_ref()
            .map(|d| persist::PinLayout::new(d.join("enforce")));
        let mut old = None;
        if let Some(p) = &pins {
            p.recover().with_context(|| {
                format!("recovering pinned enforcement under {}", p.root.display())
            })?;
            old = p.open().with_context(|| {
                format!(
                    "reading the pinned enforcement state under {} (it stays attached; remove that directory to drop it)",
                    p.root.display()
                )
            })?;
        }
        let mut reason = None;
        if let Some(o) = &old {
            reason = o.incompatibility()?;
            if reason.is_none() && opts.force_migrate {
                reason = Some("migration forced (PALISADE_ENFORCE_MIGRATE=1)".into());
            }
            if reason.is_none() {
                if let Some(m) = forced_mechanism(opts.force) {
                    if m != o.header.mechanism {
                        reason = Some(format!(
                            "mechanism {m} forced, pinned programs use {}",
                            o.header.mechanism
                        ));
                    }
                }
            }
        }
        let reuse = old.is_some() && reason.is_none();
        let loaded = loader::load(opts.force, old.as_ref().filter(|_| reuse))?;
        tracing::info!(
            file = loaded.mechanisms.file.as_str(),
            network = loaded.mechanisms.network_cgroup,
            "enforcement loaded"
        );
        let meta = match (&pins, &old) {
            (None, _) => None,
            (Some(_), Some(o)) if reuse => Some(MapHandle::try_from(&o.meta)?),
            (Some(_), _) => Some(persist::create_meta()?),
        };
        let mut e = Self {
            links: loaded.links,
            maps: loaded.maps,
            mechanisms: loaded.mechanisms,
            names: Arc::default(),
            state: Mutex::new(State {
                next_set: 1,
                ..Default::default()
            }),
            reader_started: Mutex::new(false),
            meta,
            old_decisions: None,
            carried: decision::Counters::default(),
            adopted: Vec::new(),
            adopted_bindings: Vec::new(),
        };
        if let Some(m) = &e.meta {
            persist::write_header(m, e.mechanisms.file.as_str())?;
        }
        if let Some(o) = &old {
            let a = e
                .adopt(o, reuse, reason)
                .context("taking over the pinned enforcement state")?;
            tracing::info!(
                policies = a.policies,
                cgroups = a.cgroups,
                dropped_cgroups = a.dropped_cgroups,
                path = a.path,
                reason = a.reason.as_deref().unwrap_or(""),
                "enforcement adopted from a previous agent"
            );
            e.mechanisms.adopted = Some(a);
        }
        if let Some(p) = &pins {
            let mut maps: Vec<(&str, &MapHandle)> = e.maps.named().to_vec();
            if let Some(m) = &e.meta {
                maps.push((persist::META, m));
            }
            let pinned = p
                .pin_new(&mut e.links, (!reuse).then_some(&maps[..]))
                .context("pinning enforcement")
                .and_then(|()| p.commit(!reuse).context("replacing the previous pins"));
            match pinned {
                Ok(()) => e.mechanisms.pinned = Some(p.root.clone()),
                // with nothing to take over, enforcing only while the agent runs beats not
                // enforcing (e.g. a kernel whose tracepoint links cannot be pinned)
                Err(err) if old.is_none() => {
                    tracing::error!("enforcement is not pinned and ends with the agent: {err:#}");
                    e.mechanisms
                        .notes
                        .push(format!("not pinned (ends with the agent): {err:#}"));
                    p.discard_new();
                }
                // the previous agent's pins stay attached and keep enforcing
                Err(err) => {
                    p.discard_new();
                    return Err(err);
                }
            }
            if let (Some(o), false) = (&old, reuse) {
                // the old programs are detached now (their pins are gone): their counters are
                // final once hooks already running have finished
                std::thread::sleep(GRACE);
                e.carried = decision::counters(o.map("pal_enf_stats")).unwrap_or_default();
            }
            if old.is_some() && !reuse {
                // cgroups created while both generations ran may have inherited only in the old
                // maps: write every binding (and its descendants) once more
                let st = e.state.lock().expect("enforcer state");
                for (cg, (hs, mode)) in st.bindings.iter() {
                    e.write_binding(*cg, hs, *mode)?;
                }
            }
        }
        Ok(e)
    }

    /// Reconstructs the state from a previous agent's pinned maps: in place when `reuse`, else
    /// by re-writing every policy (same set ids) and binding into this agent's new maps.
    /// Bindings of cgroups that no longer exist are dropped.
    fn adopt(
        &mut self,
        old: &persist::Pinned,
        reuse: bool,
        reason: Option<String>,
    ) -> Result<Adoption> {
        let records = persist::set_records(&old.meta)?;
        let old_sets = old.map("pal_sets");
        let live = persist::live_cgroups(self.mechanisms.cgroup2_root.as_deref())?;
        let mut st = State::default();
        let mut max_set = 0;
        for (set, rec) in records {
            max_set = max_set.max(set);
            let policy = match crate::policy::parse::parse_policy_str(&rec.policy, &rec.name) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("pinned policy {} (set {set}) does not parse: {e}", rec.name);
                    continue;
                }
            };
            let mut compiled = match compile::compile(&policy, set) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(
                        "pinned policy {} (set {set}) does not compile: {e}",
                        rec.name
                    );
                    continue;
                }
            };
            if old_sets
                .lookup(&set.to_ne_bytes(), MapFlags::ANY)?
                .is_none()
            {
                // the previous agent died while writing it (or removing it): nothing names it
                if reuse {
                    self.delete(set, &compiled);
                    if let Some(m) = &self.meta {
                        persist::delete_record(m, set);
                    }
                }
                continue;
            }
            if !reuse {
                compiled.aliases = identity::collect(&policy);
                if let Some(m) = &self.meta {
                    persist::write_record(m, set, &serde_json::to_vec(&rec)?)?;
                }
                self.write(set, &compiled)
                    .with_context(|| format!("re-writing policy {}", rec.name))?;
            }
            for k in any_nodes(&compiled) {
                let n = st.any_nodes.entry(bytes_of(&k).to_vec()).or_default();
                *n += 1;
                if *n == 1 && !reuse {
                    let _ = self.maps.trie.update(
                        bytes_of(&k),
                        bytes_of(&TrieVal::default()),
                        MapFlags::ANY,
                    );
                }
            }
            self.names
                .write()
                .expect("names")
                .sets
                .insert(set, (policy.name.clone(), compiled.rule_names.clone()));
            self.adopted.push(AdoptedPolicy {
                handle: PolicyHandle(set),
                source: rec.source,
                policy,
            });
            st.applied.insert(set, Applied { compiled });
        }
        if reuse {
            // sets without a record cannot be named or removed later: drop them now
            for k in old_sets.keys() {
                let Ok(b) = <[u8; 4]>::try_from(k.as_slice()) else {
                    continue;
                };
                let set = u32::from_ne_bytes(b);
                max_set = max_set.max(set);
                if !st.applied.contains_key(&set) {
                    tracing::warn!("dropping pinned policy set {set}: no record of its policy");
                    let _ = old_sets.delete(&k);
                }
            }
        }
        st.next_set = max_set + 1;

        let old_b = old.map("pal_bindings");
        let mut dropped = 0;
        let mut inherited = Vec::new();
        let mut direct = Vec::new();
        for k in old_b.keys() {
            let Ok(idb) = <[u8; 8]>::try_from(k.as_slice()) else {
                continue;
            };
            let id = u64::from_ne_bytes(idb);
            let Some(b) = old_b
                .lookup(&k, MapFlags::ANY)?
                .and_then(|v| palisade_bpf::events::read::<Binding>(&v))
            else {
                continue;
            };
            if !live.contains(&id) {
                if reuse {
                    let _ = old_b.delete(&k);
                }
                dropped += usize::from(b.root == 0);
                continue;
            }
            if b.root != 0 {
                inherited.push((id, b.root));
                continue;
            }
            let n = (b.nsets as usize).min(SETS);
            let handles: Vec<PolicyHandle> = b.sets[..n]
                .iter()
                .filter(|s| st.applied.contains_key(s))
                .map(|s| PolicyHandle(*s))
                .collect();
            if handles.len() != n {
                tracing::warn!(
                    "cgroup {id}: {} of its {n} pinned policies have no record and are dropped",
                    n - handles.len()
                );
            }
            let mode = if b.mode == bind_mode::AUDIT {
                BindMode::Audit
            } else {
                BindMode::Enforce
            };
            if handles.is_empty() {
                if reuse {
                    let _ = old_b.delete(&k);
                }
                continue;
            }
            direct.push((id, handles, mode));
        }
        let roots: HashSet<u64> = direct.iter().map(|(id, _, _)| *id).collect();
        for (id, root) in inherited {
            if reuse && !roots.contains(&root) {
                let _ = old_b.delete(&id.to_ne_bytes());
            }
        }
        for (id, handles, mode) in &direct {
            if !reuse {
                self.write_binding(*id, handles, *mode)?;
            }
            st.bindings.insert(*id, (handles.clone(), *mode));
            self.adopted_bindings.push(AdoptedBinding {
                cgroup_id: *id,
                handles: handles.clone(),
                mode: *mode,
            });
        }
        if !reuse {
            // in-flight runc setup exemptions and recorded hard links
            for name in ["pal_setup_tasks", "pal_aliases"] {
                let (from, to) = (
                    old.map(name),
                    if name == "pal_aliases" {
                        &self.maps.aliases
                    } else {
                        &self.maps.setup_tasks
                    },
                );
                for k in from.keys() {
                    if let Ok(Some(v)) = from.lookup(&k, MapFlags::ANY) {
                        let _ = to.update(&k, &v, MapFlags::ANY);
                    }
                }
            }
            self.old_decisions = Some(MapHandle::try_from(old.map("pal_decisions"))?);
        }
        let policies = st.applied.len();
        let cgroups = st.bindings.len();
        *self.state.get_mut().expect("enforcer state") = st;
        Ok(Adoption {
            policies,
            cgroups,
            dropped_cgroups: dropped,
            path: if reuse { "reused" } else { "migrated" },
            reason,
        })
    }

    /// Policies taken over from a previous agent (empty when none).
    pub fn adopted(&self) -> &[AdoptedPolicy] {
        &self.adopted
    }

    /// Bindings taken over from a previous agent.
    pub fn adopted_bindings(&self) -> &[AdoptedBinding] {
        &self.adopted_bindings
    }

    /// What was found and attached.
    pub fn mechanisms(&self) -> &Mechanisms {
        &self.mechanisms
    }

    /// Compiles and writes a policy under a fresh set id. All or nothing: on any failure the
    /// entries already written are removed again.
    pub fn apply(&self, policy: &Policy) -> Result<PolicyHandle> {
        self.apply_from(policy, "api")
    }

    /// [`Self::apply`], recording where the policy came from (kept across agent restarts).
    pub fn apply_from(&self, policy: &Policy, source: &str) -> Result<PolicyHandle> {
        let mut st = self.state.lock().expect("enforcer state");
        let set = st.next_set;
        // set ids occupy the top 30 bits of a trie scope
        if set >= 1 << 30 {
            bail!("policy set ids exhausted");
        }
        let mut compiled = compile::compile(policy, set)?;
        compiled.aliases = identity::collect(policy);
        // the record first: a set in the maps always has one, whenever the agent dies
        if let Some(m) = &self.meta {
            let rec = persist::SetRecord {
                name: policy.name.clone(),
                source: source.to_string(),
                policy: crate::policy::render::to_yaml(policy),
            };
            persist::write_record(m, set, &serde_json::to_vec(&rec)?)
                .with_context(|| format!("recording policy {}", policy.name))?;
        }
        if let Err(e) = self.write(set, &compiled) {
            self.delete(set, &compiled);
            return Err(e.context(format!("writing policy {} into the maps", policy.name)));
        }
        st.next_set += 1;
        self.names
            .write()
            .expect("names")
            .sets
            .insert(set, (policy.name.clone(), compiled.rule_names.clone()));
        for k in any_nodes(&compiled) {
            let n = st.any_nodes.entry(bytes_of(&k).to_vec()).or_default();
            *n += 1;
            if *n == 1 {
                // best effort: a missing union node only loses alias recording for new links
                let _ = self.maps.trie.update(
                    bytes_of(&k),
                    bytes_of(&TrieVal::default()),
                    MapFlags::ANY,
                );
            }
        }
        st.applied.insert(set, Applied { compiled });
        Ok(PolicyHandle(set))
    }

    fn write(&self, set: u32, c: &compile::Compiled) -> Result<()> {
        let m = &self.maps;
        for k in &c.uids {
            m.uids
                .update(bytes_of(k), &[1], MapFlags::ANY)
                .context("pal_rule_uids")?;
        }
        for (k, v) in &c.trie {
            m.trie
                .update(bytes_of(k), bytes_of(v), MapFlags::ANY)
                .context("pal_trie (map full?)")?;
        }
        for (k, v) in &c.net {
            m.net
                .update(bytes_of(k), bytes_of(v), MapFlags::ANY)
                .context("pal_net")?;
        }
        for (k, v) in &c.aliases {
            m.aliases
                .update(bytes_of(k), bytes_of(v), MapFlags::ANY)
                .context("pal_aliases")?;
        }
        // last: a set is only usable once its entries are all there
        m.sets
            .update(&set.to_ne_bytes(), bytes_of(&c.cfg), MapFlags::ANY)
            .context("pal_sets")?;
        Ok(())
    }

    fn delete(&self, set: u32, c: &compile::Compiled) {
        let m = &self.maps;
        // errors mean "not there", which is the goal
        let _ = m.sets.delete(&set.to_ne_bytes());
        for (k, _) in &c.trie {
            let _ = m.trie.delete(bytes_of(k));
        }
        for (k, _) in &c.net {
            let _ = m.net.delete(bytes_of(k));
        }
        for k in &c.uids {
            let _ = m.uids.delete(bytes_of(k));
        }
        if let Some(meta) = &self.meta {
            persist::delete_record(meta, set);
        }
    }

    /// Makes `handles` the policies of cgroup `cgroup_id` (replacing what it had) in one update.
    pub fn bind_cgroup(
        &self,
        cgroup_id: u64,
        handles: &[PolicyHandle],
        mode: BindMode,
    ) -> Result<()> {
        let mut st = self.state.lock().expect("enforcer state");
        if handles.len() > SETS {
            bail!(
                "at most {SETS} policies can be bound to one cgroup, got {}",
                handles.len()
            );
        }
        if let Some(h) = handles.iter().find(|h| !st.applied.contains_key(&h.0)) {
            bail!("policy set {} is not applied", h.0);
        }
        self.write_binding(cgroup_id, handles, mode)?;
        st.bindings.insert(cgroup_id, (handles.to_vec(), mode));
        Ok(())
    }

    /// Writes the binding of `cgroup_id` and of every cgroup below it: entries inherited earlier
    /// (by the cgroup_mkdir tracepoint) and descendant directories that existed before the bind.
    /// Each entry is one map update, so every cgroup flips from its old sets to the new ones at
    /// once.
    fn write_binding(
        &self,
        cgroup_id: u64,
        handles: &[PolicyHandle],
        mode: BindMode,
    ) -> Result<()> {
        let mut b = Binding {
            nsets: handles.len() as u32,
            mode: match mode {
                BindMode::Enforce => bind_mode::ENFORCE,
                BindMode::Audit => bind_mode::AUDIT,
            },
            ..Default::default()
        };
        for (slot, h) in b.sets.iter_mut().zip(handles) {
            *slot = h.0;
        }
        self.maps
            .bindings
            .update(&cgroup_id.to_ne_bytes(), bytes_of(&b), MapFlags::ANY)
            .context("pal_bindings (map full?)")?;
        let child = Binding {
            root: cgroup_id,
            ..b
        };
        let mut below: Vec<u64> = self.inherited_from(cgroup_id);
        below.extend(cgroup::descendants(
            self.mechanisms.cgroup2_root.as_deref(),
            cgroup_id,
        ));
        below.sort_unstable();
        below.dedup();
        for id in below {
            self.maps
                .bindings
                .update(&id.to_ne_bytes(), bytes_of(&child), MapFlags::ANY)
                .context("pal_bindings (map full?)")?;
        }
        Ok(())
    }

    /// Cgroups whose binding was inherited from `cgroup_id`.
    fn inherited_from(&self, cgroup_id: u64) -> Vec<u64> {
        self.maps
            .bindings
            .keys()
            .filter_map(|k| {
                let v = self.maps.bindings.lookup(&k, MapFlags::ANY).ok()??;
                let b: Binding = palisade_bpf::events::read(&v)?;
                let id = u64::from_ne_bytes(k.as_slice().try_into().ok()?);
                (b.root == cgroup_id).then_some(id)
            })
            .collect()
    }

    /// Lets runtime setup process `tgid` (runc init, registered from an OCI createRuntime hook)
    /// bind-mount its masked and read-only paths despite the mount guard, until its first exec
    /// (the entrypoint), where the kernel drops the exemption.
    pub fn exempt_setup_until_exec(&self, tgid: u32) -> Result<()> {
        self.maps
            .setup_tasks
            .update(&tgid.to_ne_bytes(), &[1u8], MapFlags::ANY)
            .context("pal_setup_tasks (map full?)")
    }

    /// Stops enforcing anything on `cgroup_id` (and on the cgroups that inherited its binding).
    pub fn unbind_cgroup(&self, cgroup_id: u64) -> Result<()> {
        let mut st = self.state.lock().expect("enforcer state");
        st.bindings.remove(&cgroup_id);
        for id in self
            .inherited_from(cgroup_id)
            .into_iter()
            .chain([cgroup_id])
        {
            match self.maps.bindings.delete(&id.to_ne_bytes()) {
                Ok(()) => {}
                Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("pal_bindings delete"),
            }
        }
        Ok(())
    }

    /// Removes a policy: first from every binding that still names it (one update each), then,
    /// after [`GRACE`], its entries. Blocks for the grace period.
    pub fn remove(&self, handle: PolicyHandle) -> Result<()> {
        let mut st = self.state.lock().expect("enforcer state");
        let still_bound: Vec<(u64, Vec<PolicyHandle>, BindMode)> = st
            .bindings
            .iter()
            .filter(|(_, (hs, _))| hs.contains(&handle))
            .map(|(cg, (hs, mode))| {
                (
                    *cg,
                    hs.iter().copied().filter(|h| *h != handle).collect(),
                    *mode,
                )
            })
            .collect();
        for (cg, rest, mode) in still_bound {
            if rest.is_empty() {
                for id in self.inherited_from(cg).into_iter().chain([cg]) {
                    let _ = self.maps.bindings.delete(&id.to_ne_bytes());
                }
                st.bindings.remove(&cg);
            } else {
                self.write_binding(cg, &rest, mode)?;
                st.bindings.insert(cg, (rest, mode));
            }
        }
        let Some(applied) = st.applied.remove(&handle.0) else {
            bail!("policy set {} is not applied", handle.0);
        };
        for k in any_nodes(&applied.compiled) {
            let key = bytes_of(&k).to_vec();
            if let Some(n) = st.any_nodes.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    st.any_nodes.remove(&key);
                    let _ = self.maps.trie.delete(&key);
                }
            }
        }
        drop(st);
        std::thread::sleep(GRACE);
        self.delete(handle.0, &applied.compiled);
        Ok(())
    }

    /// The decision stream. Starts the ring-buffer reader thread; callable once.
    pub fn decisions(&self) -> Result<tokio::sync::mpsc::Receiver<Decision>> {
        let mut started = self.reader_started.lock().expect("reader flag");
        if *started {
            bail!("the decision stream was already taken");
        }
        let rx = decision::spawn_reader(
            &self.maps.decisions,
            self.old_decisions.as_ref(),
            Arc::clone(&self.names),
            self.mechanisms.file,
        )?;
        *started = true;
        Ok(rx)
    }

    /// Kernel counters: decisions written, ring-buffer drops, fail-closed truncations.
    pub fn counters(&self) -> Result<decision::Counters> {
        let c = decision::counters(&self.maps.stats)?;
        let o = self.carried;
        Ok(decision::Counters {
            decisions: c.decisions + o.decisions,
            ringbuf_drops: c.ringbuf_drops + o.ringbuf_drops,
            unresolvable_paths: c.unresolvable_paths + o.unresolvable_paths,
        })
    }
}

/// The `palisade status` line about persistence, from the status JSON's `enforcement` object.
pub fn persist_status_line(e: &serde_json::Value) -> String {
    let Some(dir) = e["pinned"].as_str() else {
        return "persistence     none: enforcement stops with the agent (--bpf-pin-dir none)"
            .into();
    };
    let mut s = format!(
        "persistence     pinned under {dir}: enforcement survives agent crash, stop and upgrade"
    );
    if let Some(a) = e.get("adopted").filter(|a| !a.is_null()) {
        s += &format!(
            "\n                enforcement adopted from a previous agent ({} policies, {} cgroups; maps {}",
            a["policies"], a["cgroups"], a["path"].as_str().unwrap_or("?")
        );
        if let Some(r) = a["reason"].as_str() {
            s += &format!(": {r}");
        }
        if a["dropped_cgroups"].as_u64().unwrap_or(0) > 0 {
            s += &format!(
                "; {} bindings of removed cgroups dropped",
                a["dropped_cgroups"]
            );
        }
        s += ")";
    }
    s
}

/// The file mechanism a forced rung produces.
fn forced_mechanism(f: Force) -> Option<&'static str> {
    match f {
        Force::Auto => None,
        Force::FmodRet => Some(loader::FileMechanism::FmodRet.as_str()),
        Force::Tracepoint => Some(loader::FileMechanism::TracepointKill.as_str()),
    }
}
