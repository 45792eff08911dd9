//! The agent's enforcement engine: the policies it holds (by name), the loaded enforcer, and
//! which container cgroups are bound to which policies.
//!
//! Replacing a policy never leaves a gap: the new version is written under a new set id, every
//! cgroup bound to the old one is flipped to the new one in one map update each, and only then
//! is the old set deleted (see `enforce`).

use std::{collections::BTreeMap, path::PathBuf, sync::Mutex};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::{
    enforce::{BindMode, Enforcer, Mechanisms, PolicyHandle},
    policy::{self, model::Policy},
};

struct Held {
    policy: Policy,
    handle: PolicyHandle,
    /// Where it came from (file path, `api`, `library`).
    source: String,
}

/// A policy as `palisade policy list` shows it.
#[derive(Debug, Serialize)]
pub struct PolicySummary {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// enforce or audit.
    pub mode: &'static str,
    /// Number of rules.
    pub rules: usize,
    /// Where it came from.
    pub source: String,
    /// Cgroups bound to it.
    pub bound_cgroups: usize,
}

/// Policies + enforcer.
pub struct Engine {
    enforcer: Enforcer,
    dirs: Vec<PathBuf>,
    state: Mutex<EngineState>,
}

#[derive(Default)]
struct EngineState {
    policies: BTreeMap<String, Held>,
    /// cgroup id -> (policy names, mode)
    bindings: BTreeMap<u64, (Vec<String>, BindMode)>,
}

impl Engine {
    /// Wraps a loaded enforcer; `dirs` are searched (then the built-in library) for policy names
    /// that annotations ask for and the agent does not hold yet.
    pub fn new(enforcer: Enforcer, dirs: Vec<PathBuf>) -> Self {
        let engine = Self {
            enforcer,
            dirs,
            state: Mutex::new(EngineState::default()),
        };
        engine.take_over_adopted();
        engine
    }

    /// Rebuilds policies by name and bindings by cgroup from what the enforcer adopted from a
    /// previous agent. Two sets with one name (an agent killed in the middle of a replacement)
    /// are resolved to the newest: bindings naming the older are flipped, then it is removed.
    fn take_over_adopted(&self) {
        let mut st = self.lock();
        let mut by_set = std::collections::HashMap::new();
        let mut stale = Vec::new();
        // ascending set ids: a later set of the same name is the newer version
        let mut adopted: Vec<_> = self.enforcer.adopted().to_vec();
        adopted.sort_by_key(|a| a.handle.set_id());
        for a in adopted {
            by_set.insert(a.handle, a.policy.name.clone());
            let old = st.policies.insert(
                a.policy.name.clone(),
                Held {
                    policy: a.policy,
                    handle: a.handle,
                    source: a.source,
                },
            );
            stale.extend(old.map(|o| o.handle));
        }
        for b in self.enforcer.adopted_bindings() {
            let mut names: Vec<String> = Vec::new();
            for h in &b.handles {
                if let Some(n) = by_set.get(h) {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                }
            }
            let current = Self::handles(&st, &names).unwrap_or_default();
            if current != b.handles {
                if let Err(e) = self.enforcer.bind_cgroup(b.cgroup_id, &current, b.mode) {
                    tracing::error!("re-binding adopted cgroup {}: {e:#}", b.cgroup_id);
                }
            }
            st.bindings.insert(b.cgroup_id, (names, b.mode));
        }
        drop(st);
        for h in stale {
            if let Err(e) = self.enforcer.remove(h) {
                tracing::warn!(
                    "removing superseded adopted policy set {}: {e:#}",
                    h.set_id()
                );
            }
        }
    }

    /// The enforcer (decision stream, counters).
    pub fn enforcer(&self) -> &Enforcer {
        &self.enforcer
    }

    /// Mechanisms in use.
    pub fn mechanisms(&self) -> &Mechanisms {
        self.enforcer.mechanisms()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EngineState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads every policy in `dir` (all or nothing per file: a broken file is an error).
    pub fn load_dir(&self, dir: &std::path::Path) -> Result<usize> {
        let found = policy::store::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
        let n = found.len();
        for (path, p) in found {
            self.add(p, path.display().to_string())?;
        }
        Ok(n)
    }

    /// Adds or replaces a policy; cgroups bound to the old version move to the new one.
    pub fn add(&self, p: Policy, source: String) -> Result<()> {
        let mut st = self.lock();
        let handle = self
            .enforcer
            .apply_from(&p, &source)
            .with_context(|| format!("applying policy {}", p.name))?;
        let name = p.name.clone();
        let old = st.policies.insert(
            name.clone(),
            Held {
                policy: p,
                handle,
                source,
            },
        );
        if let Some(old) = old {
            // flip every binding that names the policy, then drop the old set
            let affected: Vec<(u64, Vec<String>, BindMode)> = st
                .bindings
                .iter()
                .filter(|(_, (names, _))| names.contains(&name))
                .map(|(cg, (names, mode))| (*cg, names.clone(), *mode))
                .collect();
            for (cg, names, mode) in affected {
                let handles = Self::handles(&st, &names)?;
                self.enforcer.bind_cgroup(cg, &handles, mode)?;
            }
            drop(st);
            self.enforcer.remove(old.handle)?;
        }
        Ok(())
    }

    fn handles(st: &EngineState, names: &[String]) -> Result<Vec<PolicyHandle>> {
        names
            .iter()
            .map(|n| {
                st.policies
                    .get(n)
                    .map(|h| h.handle)
                    .with_context(|| format!("unknown policy {n:?}"))
            })
            .collect()
    }

    /// Deletes a policy. Refused while a container is bound to it (that would silently
    /// unprotect it); unbind or remove those containers first.
    pub fn delete(&self, name: &str) -> Result<()> {
        let mut st = self.lock();
        let users = st
            .bindings
            .values()
            .filter(|(n, _)| n.iter().any(|x| x == name))
            .count();
        if users > 0 {
            bail!("policy {name:?} is bound to {users} running cgroup(s); remove them first");
        }
        let Some(held) = st.policies.remove(name) else {
            bail!("no policy named {name:?}")
        };
        drop(st);
        self.enforcer.remove(held.handle)
    }

    /// Makes sure the agent holds `name`, resolving it from the policy dirs or the built-in
    /// library when needed.
    pub fn ensure(&self, name: &str) -> Result<()> {
        if self.lock().policies.contains_key(name) {
            return Ok(());
        }
        let p = policy::resolve(name, &self.dirs)
            .map_err(|e| anyhow::anyhow!("unknown policy {name:?}: {e}"))?;
        if p.name != name {
            bail!("policy {name:?} resolved to a policy named {:?}", p.name);
        }
        self.add(p, "library".into())
    }

    /// Binds `policies` to cgroup `cg`.
    pub fn bind(&self, cg: u64, policies: &[String], audit: bool) -> Result<()> {
        for p in policies {
            self.ensure(p)?;
        }
        let mut st = self.lock();
        let handles = Self::handles(&st, policies)?;
        let mode = if audit {
            BindMode::Audit
        } else {
            BindMode::Enforce
        };
        self.enforcer.bind_cgroup(cg, &handles, mode)?;
        st.bindings.insert(cg, (policies.to_vec(), mode));
        Ok(())
    }

    /// Unbinds cgroup `cg`.
    pub fn unbind(&self, cg: u64) -> Result<()> {
        let mut st = self.lock();
        if st.bindings.remove(&cg).is_some() {
            self.enforcer.unbind_cgroup(cg)?;
        }
        Ok(())
    }

    /// Policies held.
    pub fn list(&self) -> Vec<PolicySummary> {
        let st = self.lock();
        st.policies
            .values()
            .map(|h| PolicySummary {
                name: h.policy.name.clone(),
                description: h.policy.description.clone(),
                mode: match h.policy.mode {
                    policy::model::Mode::Enforce => "enforce",
                    policy::model::Mode::Audit => "audit",
                },
                rules: h.policy.rules.len(),
                source: h.source.clone(),
                bound_cgroups: st
                    .bindings
                    .values()
                    .filter(|(n, _)| n.contains(&h.policy.name))
                    .count(),
            })
            .collect()
    }

    /// Names of the policies held.
    pub fn names(&self) -> Vec<String> {
        self.lock().policies.keys().cloned().collect()
    }
}
