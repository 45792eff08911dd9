//! Hard links that exist before a policy applies: a protected file with more than one name can
//! be reached by a name the path rules never mention. Every multiply-linked file under a
//! protected path is recorded by identity (device, inode) with its protected name; links made
//! later are recorded by the kernel's path_link hook (see `enforce.h`, pal_aliases).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use palisade_bpf::enforce_events::{Alias, AliasKey, KEY_PATH};

use crate::policy::model::{Action, Policy};

/// Files visited per policy at most (a prefix over a huge tree must not stall apply).
const MAX_ENTRIES: usize = 200_000;

/// The kernel's `s_dev` encoding of a userspace `st_dev`.
pub fn kernel_dev(st_dev: u64) -> u32 {
    let (major, minor) = (libc::major(st_dev), libc::minor(st_dev));
    (major << 20) | minor
}

/// The protected name as the kernel builds a forward trie key from a resolved path.
fn alias(path: &str) -> Alias {
    let bytes = path.as_bytes();
    let n = bytes.len().min(KEY_PATH);
    let mut a = Alias {
        prefixlen: 32 + 8 * n as u32,
        path: [0; KEY_PATH],
    };
    a.path[..n].copy_from_slice(&bytes[..n]);
    if n < KEY_PATH {
        a.prefixlen += 8; // the NUL that makes exact entries match
    }
    a
}

/// Alias entries for the multiply-linked files under the policy's protected paths.
pub fn collect(policy: &Policy) -> Vec<(AliasKey, Alias)> {
    let mut roots: Vec<String> = Vec::new();
    for r in policy.rules.iter().filter(|r| r.action != Action::Allow) {
        if !r.operations.iter().any(|o| o.is_path_op()) {
            continue;
        }
        roots.extend(r.paths.exact.iter().cloned());
        roots.extend(r.paths.prefix.iter().cloned());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut budget = MAX_ENTRIES;
    for root in roots {
        // a prefix "/a/b" covers names in /a starting with "b"; "/a/b/" the tree below /a/b
        let start = if root.ends_with('/') || Path::new(&root).is_dir() {
            PathBuf::from(&root)
        } else {
            Path::new(&root)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/"))
        };
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for entry in rd.flatten() {
                if budget == 0 {
                    tracing::warn!(policy = %policy.name, "hard-link scan stopped after {MAX_ENTRIES} files");
                    return out;
                }
                budget -= 1;
                let path = entry.path();
                let Some(p) = path.to_str() else { continue };
                let Ok(md) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if md.is_dir() {
                    if p.starts_with(root.trim_end_matches('/')) || root.starts_with(p) {
                        stack.push(path);
                    }
                    continue;
                }
                if md.nlink() < 2 || !p.starts_with(&root) {
                    continue;
                }
                let key = AliasKey {
                    dev: kernel_dev(md.dev()),
                    ino: md.ino(),
                    _pad: 0,
                };
                if seen.insert((key.dev, key.ino)) {
                    out.push((key, alias(p)));
                }
            }
        }
    }
    out
}
