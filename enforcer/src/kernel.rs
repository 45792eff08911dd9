//! What the running kernel allows, probed at start-up and reported by `palisade status`.
//!
//! Probing is done by trying, not by reading version numbers: a kernel can list `bpf` among its
//! LSMs and still refuse the programs (as the dev machines do), so each mechanism is only claimed
//! after a real program of that type loaded.

use std::{fs, path::Path};

use serde::Serialize;

/// Where the cgroup v2 hierarchy lives and how it is mounted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CgroupLayout {
    /// Mount point of cgroup2 (`/sys/fs/cgroup` on pure v2, `/sys/fs/cgroup/unified` on hybrid).
    pub cgroup2_root: String,
    /// `unified` (pure v2) or `hybrid` (v1 controllers + v2 for membership).
    pub mode: String,
}

/// Kernel facts that decide how palisade can observe and enforce.
#[derive(Debug, Clone, Serialize)]
pub struct KernelFeatures {
    /// `uname -r`.
    pub release: String,
    /// `/sys/kernel/btf/vmlinux` exists (CO-RE needs it).
    pub btf: bool,
    /// Active LSMs from `/sys/kernel/security/lsm`.
    pub lsm_list: Vec<String>,
    /// `bpf` is among the active LSMs.
    pub bpf_lsm_active: bool,
    /// BPF programs of trampoline types (lsm, fentry, fmod_ret) load here.
    pub trampolines: bool,
    /// kprobes exist (`/sys/kernel/tracing/kprobe_events` or debugfs equivalent).
    pub kprobes: bool,
    /// cgroup2 location.
    pub cgroup: Option<CgroupLayout>,
    /// bpffs mounted at /sys/fs/bpf.
    pub bpffs: bool,
}

/// Reads the active LSM list, mounting securityfs first if nobody did.
pub fn lsm_list() -> Vec<String> {
    let path = Path::new("/sys/kernel/security/lsm");
    if !path.exists() {
        // securityfs is not always mounted (containers, minimal VMs); mounting it is harmless.
        let _ = nix::mount::mount(
            Some("securityfs"),
            "/sys/kernel/security",
            Some("securityfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
    }
    fs::read_to_string(path)
        .map(|s| parse_lsm_list(&s))
        .unwrap_or_default()
}

fn parse_lsm_list(s: &str) -> Vec<String> {
    s.trim()
        .split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Finds the cgroup2 mount from a mountinfo-style table (`/proc/self/mounts` format).
pub fn cgroup_layout_from_mounts(mounts: &str) -> Option<CgroupLayout> {
    let mut v2 = None;
    let mut has_v1 = false;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (_src, target, fstype) = (f.next()?, f.next()?, f.next()?);
        match fstype {
            "cgroup2" => v2 = Some(target.to_owned()),
            "cgroup" => has_v1 = true,
            _ => {}
        }
    }
    v2.map(|root| CgroupLayout {
        cgroup2_root: root,
        mode: if has_v1 { "hybrid" } else { "unified" }.into(),
    })
}

/// Mounts bpffs at /sys/fs/bpf when nothing is mounted there (minimal VMs, some containers):
/// pinning needs it.
pub fn ensure_bpffs() -> std::io::Result<()> {
    let mounted = fs::read_to_string("/proc/self/mounts")?.lines().any(|l| {
        l.split_whitespace().nth(2) == Some("bpf")
            && l.split_whitespace().nth(1) == Some("/sys/fs/bpf")
    });
    if mounted {
        return Ok(());
    }
    nix::mount::mount(
        Some("bpf"),
        "/sys/fs/bpf",
        Some("bpf"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(std::io::Error::from)
}

/// The cgroup2 layout of this machine.
pub fn cgroup_layout() -> Option<CgroupLayout> {
    cgroup_layout_from_mounts(&fs::read_to_string("/proc/self/mounts").ok()?)
}

/// Probes everything except trampolines, which the enforcer reports after trying to load them.
pub fn probe() -> KernelFeatures {
    let lsm_list = lsm_list();
    KernelFeatures {
        release: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        btf: Path::new("/sys/kernel/btf/vmlinux").exists(),
        bpf_lsm_active: lsm_list.iter().any(|l| l == "bpf"),
        lsm_list,
        trampolines: false,
        kprobes: Path::new("/sys/kernel/tracing/kprobe_events").exists()
            || Path::new("/sys/kernel/debug/tracing/kprobe_events").exists(),
        cgroup: cgroup_layout(),
        bpffs: fs::read_to_string("/proc/self/mounts")
            .map(|m| {
                m.lines()
                    .any(|l| l.split_whitespace().nth(2) == Some("bpf"))
            })
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_and_unified_layouts() {
        let hybrid = "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n\
                      cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        let l = cgroup_layout_from_mounts(hybrid).unwrap();
        assert_eq!(l.cgroup2_root, "/sys/fs/cgroup/unified");
        assert_eq!(l.mode, "hybrid");
        let unified = "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n";
        let l = cgroup_layout_from_mounts(unified).unwrap();
        assert_eq!(
            (l.cgroup2_root.as_str(), l.mode.as_str()),
            ("/sys/fs/cgroup", "unified")
        );
        assert!(cgroup_layout_from_mounts("proc /proc proc rw 0 0\n").is_none());
    }

    #[test]
    fn lsm_list_parses() {
        assert_eq!(
            parse_lsm_list("lockdown,capability,landlock,bpf\n"),
            ["lockdown", "capability", "landlock", "bpf"]
        );
        assert!(parse_lsm_list("").is_empty());
    }
}
