//! Container identity by cgroup id, filled by the NRI plugin and the OCI hook, read by the event
//! pipeline to annotate events with `process.pod`.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use crate::events::model::Pod;

/// What palisade knows about one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerMeta {
    /// cgroup v2 id of the container's cgroup.
    pub cgroup_id: u64,
    /// Runtime container id (64 hex).
    pub id: String,
    /// Pod and container names, labels and image, in Tetragon's shape.
    pub pod: Pod,
    /// Policies bound to it.
    pub policies: Vec<String>,
    /// `enforce` or `audit`.
    pub mode: String,
}

/// cgroup id -> container.
#[derive(Debug, Default)]
pub struct ContainerRegistry {
    by_cgroup: RwLock<HashMap<u64, Arc<ContainerMeta>>>,
}

impl ContainerRegistry {
    /// Adds or replaces a container (a reused cgroup id replaces the stale entry).
    pub fn insert(&self, meta: ContainerMeta) {
        self.by_cgroup
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(meta.cgroup_id, Arc::new(meta));
    }

    /// Removes the container with runtime id `id`; returns it.
    pub fn remove_id(&self, id: &str) -> Option<Arc<ContainerMeta>> {
        let mut m = self.by_cgroup.write().unwrap_or_else(|e| e.into_inner());
        let cg = m.iter().find(|(_, c)| c.id == id).map(|(k, _)| *k)?;
        m.remove(&cg)
    }

    /// The container owning cgroup `cgroup_id`.
    pub fn get(&self, cgroup_id: u64) -> Option<Arc<ContainerMeta>> {
        self.by_cgroup
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&cgroup_id)
            .cloned()
    }

    /// All containers.
    pub fn all(&self) -> Vec<Arc<ContainerMeta>> {
        self.by_cgroup
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Number of containers tracked.
    pub fn len(&self) -> usize {
        self.by_cgroup
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Nothing held / tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
