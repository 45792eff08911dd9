//! `#[repr(C)]` mirrors of the records in `palisade.h`, decoded from ring-buffer bytes.

/// `enum pal_event_kind`.
pub mod kind {
    /// Program exec (`sched_process_exec`).
    pub const EXEC: u32 = 1;
    /// Last thread of a thread group exited.
    pub const EXIT: u32 = 2;
    /// New thread group.
    pub const FORK: u32 = 3;
    /// An enforcement decision.
    pub const ENFORCE: u32 = 16;
}

/// `pal_exec.flags` bits.
pub mod flags {
    /// Binary path was truncated.
    pub const TRUNC_PATH: u32 = 1 << 0;
    /// Arguments were truncated.
    pub const TRUNC_ARGS: u32 = 1 << 1;
    /// Working directory was truncated.
    pub const TRUNC_CWD: u32 = 1 << 2;
    /// Parent was not tracked since its exec.
    pub const PARENT_MISS: u32 = 1 << 3;
    /// Arguments could not be read.
    pub const ERR_ARGS: u32 = 1 << 4;
    /// The exec changed credentials (setuid/setgid/file caps).
    pub const SECUREEXEC: u32 = 1 << 5;
}

/// `enum pal_stat` indices.
pub mod stat {
    /// Records written.
    pub const EVENTS: u32 = 0;
    /// Records lost: ring buffer full.
    pub const RB_DROPS: u32 = 1;
    /// Process map updates refused.
    pub const PROC_MAP_FULL: u32 = 2;
}

/// `struct pal_hdr`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Hdr {
    pub kind: u32,
    pub size: u32,
    pub ktime: u64,
    pub pid: u32,
    pub tid: u32,
    pub cgroup_id: u64,
}

/// `struct pal_creds`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub cap_inheritable: u64,
}

/// `struct pal_exec`, followed by path, argv and cwd bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Exec {
    pub hdr: Hdr,
    pub ppid: u32,
    pub flags: u32,
    pub parent_ktime: u64,
    pub start_ktime: u64,
    pub creds: Creds,
    pub ino: u64,
    pub nlink: u32,
    pub mode: u32,
    pub file_uid: u32,
    pub file_gid: u32,
    pub dev: u32,
    pub auid: u32,
    pub path_len: u16,
    pub args_len: u16,
    pub cwd_len: u16,
    pub _pad: u16,
    pub comm: [u8; 16],
}

/// `struct pal_exit`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Exit {
    pub hdr: Hdr,
    pub exec_ktime: u64,
    pub exit_code: u32,
    pub ppid: u32,
}

/// `struct pal_fork`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Fork {
    pub hdr: Hdr,
    pub parent_ktime: u64,
    pub ppid: u32,
    pub _pad: u32,
}

// SAFETY: plain-old-data, every bit pattern is valid.
unsafe impl plain::Plain for Hdr {}
// SAFETY: as above.
unsafe impl plain::Plain for Exec {}
// SAFETY: as above.
unsafe impl plain::Plain for Exit {}
// SAFETY: as above.
unsafe impl plain::Plain for Fork {}

/// Reads a record of type `T` from the start of `bytes` (unaligned safe).
pub fn read<T: plain::Plain + Default + Copy>(bytes: &[u8]) -> Option<T> {
    let mut v = T::default();
    plain::copy_from_bytes(&mut v, bytes).ok()?;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn layouts_match_palisade_h() {
        assert_eq!(size_of::<Hdr>(), 32);
        assert_eq!(size_of::<Creds>(), 56);
        assert_eq!(size_of::<Exec>(), 32 + 8 + 16 + 56 + 8 + 24 + 8 + 16);
        assert_eq!(size_of::<Exit>(), 48);
        assert_eq!(size_of::<Fork>(), 48);
    }
}
