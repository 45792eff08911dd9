//! Events from container cgroups that the runtime has not registered yet are held back, for a
//! bounded time, until the container's identity arrives; then they are exported with their pod.
//!
//! Why: runc's own setup processes run (and exit) inside the container's cgroup a few
//! milliseconds before NRI StartContainer tells palisade who the container is. Exporting them
//! at once would ship container events without `process.pod`. Holding is bounded in count and
//! time; an event released without identity is counted (`identity_timeouts`), never dropped.

use std::{
    collections::{HashMap, VecDeque},
    ffi::CString,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::Path,
    time::{Duration, Instant},
};

use crate::{containers::ContainerMeta, events::model::Envelope};

/// Longest an event waits for its container's identity. containerd 1.7 runs `runc create`
/// (whose setup processes already run in the container's cgroup) before it sends NRI
/// StartContainer; on a loaded node (200 pods at once, 2 cores) that gap exceeded 2 s, so the
/// hold is 5 s. It delays only events of container cgroups not registered yet.
pub const HOLD: Duration = Duration::from_secs(5);
/// Most events held at once; beyond it the oldest is released without identity.
pub const MAX_HELD: usize = 16_384;

/// Held events.
#[derive(Default)]
pub struct Pending {
    queue: VecDeque<(Instant, u64, Envelope)>,
    /// Events released without identity (timeout or overflow).
    pub identity_timeouts: u64,
}

impl Pending {
    /// Holds `ev` (from cgroup `cg`); returns an event that had to make room, if any.
    pub fn hold(&mut self, cg: u64, ev: Envelope, now: Instant) -> Option<Envelope> {
        self.queue.push_back((now, cg, ev));
        if self.queue.len() > MAX_HELD {
            self.identity_timeouts += 1;
            return self.queue.pop_front().map(|(_, _, e)| e);
        }
        None
    }

    /// Releases the events of a container that just registered, with its identity filled in.
    pub fn release_container(&mut self, meta: &ContainerMeta) -> Vec<Envelope> {
        let (mine, rest): (VecDeque<_>, VecDeque<_>) = self
            .queue
            .drain(..)
            .partition(|(_, cg, _)| *cg == meta.cgroup_id);
        self.queue = rest;
        mine.into_iter()
            .map(|(_, _, ev)| with_identity(ev, meta))
            .collect()
    }

    /// Releases events held longer than `HOLD`.
    pub fn release_expired(&mut self, now: Instant) -> Vec<Envelope> {
        let mut out = Vec::new();
        while self
            .queue
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) >= HOLD)
        {
            if let Some((_, _, ev)) = self.queue.pop_front() {
                self.identity_timeouts += 1;
                out.push(ev);
            }
        }
        out
    }

    /// Events held now.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Nothing held / tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn with_identity(mut ev: Envelope, meta: &ContainerMeta) -> Envelope {
    let docker: String = meta.id.chars().take(31).collect();
    let p = ev.body.process_mut();
    p.pod = Some(meta.pod.clone());
    p.docker = Some(docker.clone());
    if let Some(parent) = ev
        .body
        .parent_mut()
        .filter(|pp| pp.cgroup_id == meta.cgroup_id)
    {
        parent.pod = Some(meta.pod.clone());
        parent.docker = Some(docker);
    }
    ev
}

/// True when a cgroup path names a container: a component that is (or wraps) a 64-hex id,
/// as containerd (`k8s.io/<id>`), CRI-O (`crio-<id>.scope`), podman (`libpod-<id>`) and
/// Docker (`docker-<id>.scope`) create them.
pub fn is_container_cgroup(path: &str) -> bool {
    path.split('/').any(|c| {
        let c = c.strip_suffix(".scope").unwrap_or(c);
        let id = c.rsplit(['-', ':']).next().unwrap_or(c);
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Resolves cgroup ids to paths through `open_by_handle_at` on the cgroup2 mount (a cgroup id is
/// its kernfs file handle), caching answers.
pub struct CgroupResolver {
    root: Option<OwnedFd>,
    cache: HashMap<u64, bool>,
}

const FILEID_KERNFS: i32 = 0xfe;
const CACHE_MAX: usize = 65_536;

#[repr(C)]
struct Handle {
    bytes: u32,
    kind: i32,
    id: u64,
}

impl CgroupResolver {
    /// A resolver for the cgroup2 mount at `root`.
    pub fn new(root: Option<&Path>) -> Self {
        let root = root.and_then(|r| {
            let c = CString::new(r.as_os_str().as_encoded_bytes()).ok()?;
            // SAFETY: valid C string; the fd is owned below.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            // SAFETY: fd was just opened and is ours.
            (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
        });
        Self {
            root,
            cache: HashMap::new(),
        }
    }

    /// Path of cgroup `id` relative to the cgroup2 mount, if it still exists.
    pub fn path(&self, id: u64) -> Option<String> {
        let root = self.root.as_ref()?;
        let mut h = Handle {
            bytes: 8,
            kind: FILEID_KERNFS,
            id,
        };
        // SAFETY: `h` has the file_handle layout (u32, i32, 8 bytes of handle).
        let fd = unsafe {
            libc::open_by_handle_at(
                root.as_raw_fd(),
                (&mut h as *mut Handle).cast(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd was just returned to us.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let p = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        Some(p.to_string_lossy().into_owned())
    }

    /// Whether cgroup `id` is a container's (cached).
    pub fn is_container(&mut self, id: u64) -> bool {
        if let Some(v) = self.cache.get(&id) {
            return *v;
        }
        let v = self.path(id).is_some_and(|p| is_container_cgroup(&p));
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(id, v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_cgroup_shapes() {
        let id = "6acdcf3e15559250761961174d87dd762e8e07155cc730a93a00601a45ab3112";
        assert!(is_container_cgroup(&format!(
            "/sys/fs/cgroup/unified/k8s.io/{id}"
        )));
        assert!(is_container_cgroup(&format!(
            "/kubepods.slice/kubepods-pod1.slice/crio-{id}.scope"
        )));
        assert!(is_container_cgroup(&format!("/libpod_parent/libpod-{id}")));
        assert!(is_container_cgroup(&format!(
            "/system.slice/docker-{id}.scope"
        )));
        assert!(!is_container_cgroup(
            "/sys/fs/cgroup/unified/user.slice/session-1.scope"
        ));
        assert!(!is_container_cgroup("/palisade-test/true-123"));
    }

    #[test]
    fn resolver_finds_a_real_cgroup_when_root() {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "open_by_handle_at needs root (CI runs as root)"
        );
        let layout = crate::kernel::cgroup_layout().expect("cgroup2 mounted");
        let root = std::path::PathBuf::from(&layout.cgroup2_root);
        let dir = root.join(format!("palisade-resolver-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let id = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&dir).unwrap());
        let r = CgroupResolver::new(Some(&root));
        assert_eq!(r.path(id).as_deref(), Some(dir.to_str().unwrap()));
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(r.path(id), None);
    }
}
