//! Userspace process cache: what every event needs to describe a process (binary, arguments,
//! credentials...), keyed by thread-group id.
//!
//! Memory is bounded: at most `max_live` running processes plus `max_exited` recently exited
//! ones (kept so that records arriving late from another CPU still resolve). When exits were
//! lost and the live table is full, entries whose pid no longer exists in /proc are reaped; if
//! that frees nothing the oldest entry goes. Every eviction is counted.

use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
    sync::Arc,
};

/// Everything known about one process image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcInfo {
    /// Thread group id.
    pub pid: u32,
    /// Parent thread group id.
    pub ppid: u32,
    /// Exec (or fork) time, the `ktime` of the exec id.
    pub ktime: u64,
    /// The parent's `ktime`.
    pub parent_ktime: u64,
    /// Resolved binary.
    pub binary: String,
    /// argv without argv[0].
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// Tetragon-style flags (`execve`, `procFS`, `clone`, `truncArgs`...).
    pub flags: Vec<&'static str>,
    /// Real, effective, saved, fs uids and gids.
    pub creds: palisade_bpf::events::Creds,
    /// Audit login uid.
    pub auid: u32,
    /// cgroup v2 id at exec.
    pub cgroup_id: u64,
    /// Executable's inode, link count, mode, owner.
    pub ino: u64,
    /// Link count of the executable (0 = fileless/deleted).
    pub nlink: u32,
    /// Mode bits of the executable.
    pub mode: u32,
    /// Owner of the executable.
    pub file_uid: u32,
    /// Group of the executable.
    pub file_gid: u32,
    /// The exec changed credentials.
    pub secureexec: bool,
}

/// Counters exposed by `palisade status`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CacheStats {
    /// Running processes tracked.
    pub live: usize,
    /// Exited processes retained.
    pub exited: usize,
    /// Entries dropped because the table was full of processes that still exist.
    pub evicted: u64,
    /// Entries reaped because their process vanished without an exit record.
    pub reaped: u64,
    /// Lookups that found nothing.
    pub misses: u64,
}

/// The cache.
#[derive(Debug)]
pub struct ProcessCache {
    live: HashMap<u32, Arc<ProcInfo>>,
    order: VecDeque<(u32, u64)>,
    exited: HashMap<u32, Arc<ProcInfo>>,
    exited_order: VecDeque<(u32, u64)>,
    max_live: usize,
    max_exited: usize,
    proc_root: PathBuf,
    stats: CacheStats,
}

impl ProcessCache {
    /// A cache holding at most `max_live` + `max_exited` entries.
    pub fn new(max_live: usize, max_exited: usize) -> Self {
        Self::with_proc_root(max_live, max_exited, "/proc".into())
    }

    /// As `new`, reading liveness from another procfs root (tests).
    pub fn with_proc_root(max_live: usize, max_exited: usize, proc_root: PathBuf) -> Self {
        Self {
            live: HashMap::new(),
            order: VecDeque::new(),
            exited: HashMap::new(),
            exited_order: VecDeque::new(),
            max_live: max_live.max(1),
            max_exited,
            proc_root,
            stats: CacheStats::default(),
        }
    }

    /// Inserts or replaces the image of `info.pid` (exec replaces the image of a live pid).
    pub fn insert(&mut self, info: ProcInfo) -> Arc<ProcInfo> {
        let info = Arc::new(info);
        let key = (info.pid, info.ktime);
        if self.live.insert(info.pid, Arc::clone(&info)).is_none()
            && self.live.len() > self.max_live
        {
            self.make_room();
        }
        self.order.push_back(key);
        self.compact_order();
        info
    }

    /// The running (or recently exited) process `pid`.
    pub fn get(&mut self, pid: u32) -> Option<Arc<ProcInfo>> {
        let hit = self
            .live
            .get(&pid)
            .or_else(|| self.exited.get(&pid))
            .cloned();
        if hit.is_none() {
            self.stats.misses += 1;
        }
        hit
    }

    /// Marks `pid` exited; returns its info. The entry stays findable for a while.
    pub fn exit(&mut self, pid: u32) -> Option<Arc<ProcInfo>> {
        let info = self.live.remove(&pid)?;
        if self.max_exited > 0 {
            self.exited_order.push_back((pid, info.ktime));
            self.exited.insert(pid, Arc::clone(&info));
            while self.exited.len() > self.max_exited {
                let Some((p, k)) = self.exited_order.pop_front() else {
                    break;
                };
                if self.exited.get(&p).is_some_and(|i| i.ktime == k) {
                    self.exited.remove(&p);
                }
            }
        }
        Some(info)
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            live: self.live.len(),
            exited: self.exited.len(),
            ..self.stats
        }
    }

    fn make_room(&mut self) {
        // First reap processes that are gone (their exit record was lost).
        let gone: Vec<u32> = self
            .live
            .keys()
            .copied()
            .filter(|pid| !self.proc_root.join(pid.to_string()).exists())
            .collect();
        for pid in &gone {
            self.live.remove(pid);
        }
        self.stats.reaped += gone.len() as u64;
        // Then, if still full, the oldest entry.
        while self.live.len() > self.max_live {
            let Some((pid, ktime)) = self.order.pop_front() else {
                break;
            };
            if self.live.get(&pid).is_some_and(|i| i.ktime == ktime) {
                self.live.remove(&pid);
                self.stats.evicted += 1;
            }
        }
    }

    /// Keeps the order queue from growing with stale keys (pids that re-exec'd or exited).
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.max_live + 64 {
            let live = &self.live;
            self.order
                .retain(|(p, k)| live.get(p).is_some_and(|i| i.ktime == *k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: u32, ktime: u64) -> ProcInfo {
        ProcInfo {
            pid,
            ktime,
            binary: format!("/bin/p{pid}"),
            ..Default::default()
        }
    }

    #[test]
    fn exec_replaces_and_exit_retains() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = ProcessCache::with_proc_root(8, 2, dir.path().into());
        c.insert(info(10, 1));
        c.insert(ProcInfo {
            binary: "/bin/new".into(),
            ..info(10, 2)
        });
        assert_eq!(c.get(10).unwrap().binary, "/bin/new");
        assert_eq!(c.exit(10).unwrap().ktime, 2);
        assert_eq!(c.get(10).unwrap().ktime, 2, "exited entries stay findable");
        c.insert(info(11, 3));
        c.exit(11);
        c.insert(info(12, 4));
        c.exit(12);
        assert!(c.get(10).is_none(), "exited retention is bounded");
        assert_eq!(c.stats().exited, 2);
    }

    #[test]
    fn full_table_reaps_vanished_then_evicts_oldest() {
        let dir = tempfile::tempdir().unwrap();
        // pids 1 and 2 "exist" in the fake procfs, 3.. do not
        std::fs::create_dir(dir.path().join("1")).unwrap();
        std::fs::create_dir(dir.path().join("2")).unwrap();
        let mut c = ProcessCache::with_proc_root(2, 0, dir.path().into());
        c.insert(info(1, 1));
        c.insert(info(3, 2));
        c.insert(info(2, 3)); // over the bound: pid 3 vanished, so it is reaped
        assert!(c.get(3).is_none());
        assert_eq!(c.stats().reaped, 1);
        assert_eq!(c.stats().live, 2);
        std::fs::create_dir(dir.path().join("4")).unwrap();
        c.insert(info(4, 4)); // all exist: the oldest (pid 1) is evicted
        assert!(c.get(1).is_none());
        assert_eq!(c.stats().evicted, 1);
        assert_eq!(c.stats().live, 2);
    }
}
