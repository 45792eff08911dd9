//! cgroup2 directories by id (the id the kernel reports is the directory's inode number).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Directories visited at most while looking for a cgroup (large hosts have thousands).
const MAX_DIRS: usize = 100_000;

/// Every cgroup id below the cgroup `id` (not including it), or none when it is not found.
pub fn descendants(root: Option<&Path>, id: u64) -> Vec<u64> {
    let Some(root) = root else { return Vec::new() };
    let Some(dir) = find(root, id) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if let Ok(md) = e.metadata() {
                    out.push(md.ino());
                }
                stack.push(e.path());
            }
        }
    }
    out
}

/// The directory of cgroup `id` under `root`.
pub fn find(root: &Path, id: u64) -> Option<PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    let mut budget = MAX_DIRS;
    while let Some(d) = stack.pop() {
        if fs::metadata(&d).is_ok_and(|m| m.ino() == id) {
            return Some(d);
        }
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if budget == 0 {
                return None;
            }
            budget -= 1;
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    None
}
