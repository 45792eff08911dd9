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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use libbpf_rs::{Link, MapCore, MapFlags};
use palisade_bpf::enforce_events::{
    bind_mode, bytes_of, trie_kind, Binding, TrieKey, TrieVal, SETS, SET_ANY,
};

pub use decision::Decision;
pub use loader::{Force, Mechanisms};

use crate::policy::model::Policy;

/// Options of [`Enforcer::load`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force a rung of the mechanism ladder (lab tests of the fallbacks).
    pub force: Force,
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
    _links: Vec<Link>,
    maps: loader::Maps,
    mechanisms: Mechanisms,
    names: Arc<RwLock<Names>>,
    state: Mutex<State>,
    reader_started: Mutex<bool>,
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
    /// Probes the kernel, loads and attaches the best mechanism (see [`loader`]).
    pub fn load(opts: Options) -> Result<Self> {
        let loaded = loader::load(opts.force)?;
        tracing::info!(
            file = loaded.mechanisms.file.as_str(),
            network = loaded.mechanisms.network_cgroup,
            "enforcement loaded"
        );
        Ok(Self {
            _links: loaded.links,
            maps: loaded.maps,
            mechanisms: loaded.mechanisms,
            names: Arc::default(),
            state: Mutex::new(State {
                next_set: 1,
                ..Default::default()
            }),
            reader_started: Mutex::new(false),
        })
    }

    /// What was found and attached.
    pub fn mechanisms(&self) -> &Mechanisms {
        &self.mechanisms
    }

    /// Compiles and writes a policy under a fresh set id. All or nothing: on any failure the
    /// entries already written are removed again.
    pub fn apply(&self, policy: &Policy) -> Result<PolicyHandle> {
        let mut st = self.state.lock().expect("enforcer state");
        let set = st.next_set;
        // set ids occupy the top 30 bits of a trie scope
        if set >= 1 << 30 {
            bail!("policy set ids exhausted");
        }
        let mut compiled = compile::compile(policy, set)?;
        compiled.aliases = identity::collect(policy);
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
            Arc::clone(&self.names),
            self.mechanisms.file,
        )?;
        *started = true;
        Ok(rx)
    }

    /// Kernel counters: decisions written, ring-buffer drops, fail-closed truncations.
    pub fn counters(&self) -> Result<decision::Counters> {
        decision::counters(&self.maps.stats)
    }
}
