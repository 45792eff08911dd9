//! Which BPF objects and bpffs inodes are palisade's: everything pinned under the pin directory
//! (walked recursively) and everything the agent holds an fd of, plus what those reference
//! (a link's program, a program's maps). No coupling to the components that created them.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::{ffi::OsStrExt, fs::MetadataExt},
    },
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

/// Kinds of protected objects, as in `protect.bpf.c`.
pub mod kind {
    /// A BPF map id.
    pub const MAP: u32 = 1;
    /// A BPF program id.
    pub const PROG: u32 = 2;
    /// A BPF link id.
    pub const LINK: u32 = 3;
    /// A bpffs inode (device, inode number).
    pub const INODE: u32 = 4;
    /// A task (events only).
    pub const TASK: u32 = 5;
}

/// Key of `pal_protected` (`struct pal_protect_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// One of [`kind`].
    pub kind: u32,
    /// Kernel `s_dev` for inodes, 0 otherwise.
    pub dev: u32,
    /// Object id or inode number.
    pub id: u64,
}

impl Key {
    /// The key as the kernel lays it out.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&self.kind.to_ne_bytes());
        b[4..8].copy_from_slice(&self.dev.to_ne_bytes());
        b[8..].copy_from_slice(&self.id.to_ne_bytes());
        b
    }

    /// Parses a key read back from the map.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Self {
            kind: u32::from_ne_bytes(b.get(..4)?.try_into().ok()?),
            dev: u32::from_ne_bytes(b.get(4..8)?.try_into().ok()?),
            id: u64::from_ne_bytes(b.get(8..16)?.try_into().ok()?),
        })
    }
}

/// What one walk found.
#[derive(Debug, Default, Clone)]
pub struct Found {
    /// Keys to protect.
    pub keys: BTreeSet<Key>,
    /// bpffs inode number -> pin path (for events).
    pub inode_paths: BTreeMap<u64, PathBuf>,
}

impl Found {
    /// Ids of one kind, sorted.
    pub fn ids(&self, k: u32) -> Vec<u64> {
        self.keys
            .iter()
            .filter(|x| x.kind == k)
            .map(|x| x.id)
            .collect()
    }
}

const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;

fn sys_bpf(cmd: libc::c_long, attr: &mut [u64; 8]) -> std::io::Result<RawFd> {
    // SAFETY: attr is a zero-padded union bpf_attr of 64 bytes, valid for the whole call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr) as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as RawFd)
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: fd was just returned by bpf(2) and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `BPF_OBJ_GET` of a pin.
fn obj_get(path: &Path) -> std::io::Result<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut attr = [0u64; 8];
    attr[0] = c.as_ptr() as u64;
    sys_bpf(BPF_OBJ_GET, &mut attr).map(owned)
}

/// Map ids a program uses (`bpf_prog_info.map_ids`).
fn prog_map_ids(prog_id: u32) -> Vec<u32> {
    let mut attr = [0u64; 8];
    attr[0] = u64::from(prog_id);
    let Ok(fd) = sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned) else {
        return Vec::new();
    };
    let mut ids = vec![0u32; 64];
    // struct bpf_prog_info up to map_ids: nr_map_ids at byte 52, map_ids at byte 56
    let mut info = [0u64; 8];
    info[6] = u64::from(ids.len() as u32) << 32;
    info[7] = ids.as_mut_ptr() as u64;
    let mut attr = [0u64; 8];
    attr[0] = fd.as_raw_fd() as u64 | (std::mem::size_of_val(&info) as u64) << 32;
    attr[1] = info.as_mut_ptr() as u64;
    if sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).is_err() {
        return Vec::new();
    }
    let n = ((info[6] >> 32) as usize).min(ids.len());
    ids.truncate(n);
    ids
}

/// `map_id`, `prog_id` and `link_id` of an fd, from /proc/self/fdinfo.
fn fd_ids(fd: RawFd) -> (Option<u32>, Option<u32>, Option<u32>) {
    let Ok(text) = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
        return (None, None, None);
    };
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
    };
    (get("map_id:"), get("prog_id:"), get("link_id:"))
}

impl Found {
    fn add_fd(&mut self, fd: RawFd) {
        let (map, prog, link) = fd_ids(fd);
        if let Some(id) = map {
            self.add(kind::MAP, id);
        }
        if let Some(id) = link {
            self.add(kind::LINK, id);
        }
        // a link's fdinfo names its program too
        if let Some(id) = prog {
            self.add(kind::PROG, id);
        }
    }

    fn add(&mut self, k: u32, id: u32) {
        self.keys.insert(Key {
            kind: k,
            dev: 0,
            id: u64::from(id),
        });
    }

    fn add_inode(&mut self, meta: &fs::Metadata, path: &Path) {
        let dev = meta.dev();
        // userspace dev_t -> the kernel's internal s_dev (MKDEV: 12-bit major, 20-bit minor)
        let kdev = (libc::major(dev) << 20) | libc::minor(dev);
        self.keys.insert(Key {
            kind: kind::INODE,
            dev: kdev,
            id: meta.ino(),
        });
        self.inode_paths.insert(meta.ino(), path.to_owned());
    }

    /// The maps of every program found.
    fn add_prog_maps(&mut self) {
        for p in self.ids(kind::PROG) {
            for m in prog_map_ids(p as u32) {
                self.add(kind::MAP, m);
            }
        }
    }
}

fn walk(dir: &Path, depth: u32, found: &mut Found) -> Result<()> {
    let meta = fs::symlink_metadata(dir).with_context(|| format!("stat {}", dir.display()))?;
    found.add_inode(&meta, dir);
    if depth > 8 {
        return Ok(());
    }
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue; // removed meanwhile
        };
        if meta.is_dir() {
            walk(&path, depth + 1, found)?;
            continue;
        }
        found.add_inode(&meta, &path);
        match obj_get(&path) {
            Ok(fd) => found.add_fd(fd.as_raw_fd()),
            Err(e) => tracing::debug!("self-protection: BPF_OBJ_GET {}: {e}", path.display()),
        }
    }
    Ok(())
}

/// Walks `pin_dir` (when it exists) and the agent's own fds.
pub fn discover(pin_dir: Option<&Path>) -> Result<Found> {
    let mut found = Found::default();
    if let Some(dir) = pin_dir.filter(|d| d.exists()) {
        walk(dir, 0, &mut found)?;
    }
    for entry in fs::read_dir("/proc/self/fd").context("reading /proc/self/fd")? {
        let entry = entry?;
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let t = target.as_os_str().as_bytes();
        if t.starts_with(b"anon_inode:bpf") {
            if let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
                found.add_fd(fd);
            }
        }
    }
    found.add_prog_maps();
    Ok(found)
}
