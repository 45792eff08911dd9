//! Fresh cgroup v2 directories for tests, removed on drop.

use std::{
    fs,
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};

/// Where cgroup2 is mounted (`/sys/fs/cgroup/unified` on hybrid hosts, `/sys/fs/cgroup` on v2).
pub fn cgroup2_root() -> Result<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mounts")?;
    mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })
        .context("cgroup2 is not mounted")
}

/// A cgroup2 directory.
pub struct Cgroup {
    /// Its path.
    pub path: PathBuf,
}

impl Cgroup {
    /// Creates `<cgroup2>/palisade-test/<name>-<pid>`.
    pub fn new(name: &str) -> Result<Self> {
        let path = cgroup2_root()?
            .join("palisade-test")
            .join(format!("{name}-{}", std::process::id()));
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }

    /// The cgroup id (inode of the directory), as BPF's `bpf_get_current_cgroup_id()` sees it.
    pub fn id(&self) -> Result<u64> {
        Ok(fs::metadata(&self.path)?.ino())
    }

    /// Makes `cmd` join this cgroup between fork and exec, so even its first instruction runs
    /// inside it.
    pub fn enter_before_exec(&self, cmd: &mut Command) {
        let procs = self.path.join("cgroup.procs");
        // SAFETY: the closure only writes a file, which is async-signal-safe enough for a test child.
        unsafe {
            cmd.pre_exec(move || fs::write(&procs, b"0"));
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // processes may linger for a moment after wait(); retry briefly
        for _ in 0..50 {
            if fs::remove_dir(&self.path).is_ok() || !Path::new(&self.path).exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
