//! `#[repr(C)]` mirrors of `enforce.h`: map keys/values the policy compiler writes and the
//! decision record the enforcement programs emit. Constants keep the C names' meaning.

use crate::events::Hdr;

/// Policies bound to one cgroup at most.
pub const SETS: usize = 4;
/// Operations (`enum pal_op`).
pub const OPS: usize = 16;
/// Candidate rules per op per trie node.
pub const CANDS: usize = 4;
/// Path bytes in a trie key.
pub const KEY_PATH: usize = 248;
/// Path bytes carried in a decision record.
pub const REC_PATH: usize = 512;
/// Candidates per network trie node.
pub const NET_CANDS: usize = 8;
/// Rules per policy (binary-match bitmap bits).
pub const RULES: usize = 2048;
/// `rule` value when no rule acted.
pub const RULE_NONE: u16 = 0xffff;

/// `enum pal_action`.
pub mod action {
    pub const NONE: u8 = 0;
    pub const ALLOW: u8 = 1;
    pub const AUDIT: u8 = 2;
    pub const DENY: u8 = 3;
    pub const KILL: u8 = 4;
}

/// `enum pal_mechanism`.
pub mod mechanism {
    pub const LSM: u8 = 1;
    pub const FMOD_RET: u8 = 2;
    pub const TRACEPOINT: u8 = 3;
    pub const CGROUP: u8 = 4;
}

/// `enum pal_trie_kind`.
pub mod trie_kind {
    pub const PATH: u32 = 0;
    pub const PATH_REV: u32 = 1;
    pub const BIN: u32 = 2;
    pub const BIN_REV: u32 = 3;
}

/// `PAL_COND_*`.
pub mod cond {
    pub const UID: u8 = 1 << 0;
    pub const BIN: u8 = 1 << 1;
    /// The process's pid in its own pid namespace must be listed (`nsPids: In`).
    pub const NSPID: u8 = 1 << 2;
    /// ... must not be listed (`nsPids: NotIn`).
    pub const NSPID_NOT: u8 = 1 << 3;
    /// `pal_rule_uids` keys of nsPids values carry this bit in `rule`.
    pub const NSPID_RULE: u32 = 1 << 31;
}

/// `pal_binding.mode`.
pub mod bind_mode {
    pub const ENFORCE: u32 = 0;
    pub const AUDIT: u32 = 1;
}

/// `PAL_DF_*` decision flags.
pub mod dflags {
    pub const TRUNC_PATH: u32 = 1 << 0;
    pub const REC_PATH_CUT: u32 = 1 << 1;
    pub const REC_PATH2_CUT: u32 = 1 << 2;
    pub const DEFAULT: u32 = 1 << 3;
    pub const KILLED: u32 = 1 << 4;
    pub const AUDIT_MODE: u32 = 1 << 5;
    pub const PATH2: u32 = 1 << 6;
    pub const INODE: u32 = 1 << 7;
    pub const MOUNT_GUARD: u32 = 1 << 8;
}

/// `PAL_OP_MOUNT`: op of mount-guard records.
pub const OP_MOUNT: u8 = 16;

/// `enum pal_hook`, in order; `HOOKS[h - 1]` is the name of hook `h`.
pub const HOOKS: [&str; 32] = [
    "file_open",
    "path_unlink",
    "path_rename",
    "path_link",
    "path_symlink",
    "path_truncate",
    "file_truncate",
    "path_chmod",
    "path_chown",
    "inode_setxattr",
    "inode_removexattr",
    "path_mkdir",
    "path_rmdir",
    "bprm_check_security",
    "mmap_file",
    "file_mprotect",
    "connect4",
    "connect6",
    "sendmsg4",
    "sendmsg6",
    "sys_enter_unlinkat",
    "sys_enter_renameat2",
    "sys_enter_openat",
    "sys_enter_truncate",
    "sys_enter_fchmodat",
    "sys_enter_fchownat",
    "sys_enter_linkat",
    "sys_enter_mkdirat",
    "path_mknod",
    "file_permission",
    "sb_mount",
    "sys_enter_execve",
];

/// `struct pal_binding`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Binding {
    pub nsets: u32,
    pub mode: u32,
    pub sets: [u32; SETS],
    /// 0: bound itself; else the bound ancestor this entry was inherited from.
    pub root: u64,
}

/// `struct pal_set_cfg`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetCfg {
    pub listed_ops: u32,
    pub deny_ops: u32,
    pub default_action: u8,
    pub has_suffix: u8,
    pub has_bin_suffix: u8,
    pub audit: u8,
}

/// `struct pal_trie_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrieKey {
    pub prefixlen: u32,
    pub scope: u32,
    pub path: [u8; KEY_PATH],
}

impl Default for TrieKey {
    fn default() -> Self {
        Self {
            prefixlen: 0,
            scope: 0,
            path: [0; KEY_PATH],
        }
    }
}

/// `struct pal_cand`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cand {
    pub rule: u16,
    pub action: u8,
    pub cond: u8,
}

/// `union pal_trie_val` as its path-node view; binary nodes use [`TrieVal::bin_rules`] bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrieVal {
    pub cand: [[Cand; CANDS]; OPS],
}

impl TrieVal {
    /// The binary-node view: bit `r` set = rule `r`'s binary matcher holds here.
    pub fn from_bin_rules(bits: &[u64; RULES / 64]) -> Self {
        let mut v = Self::default();
        // SAFETY: both are 256 bytes of plain data.
        let bytes: [u8; 256] = unsafe { std::mem::transmute(*bits) };
        plain::copy_from_bytes(&mut v, &bytes).expect("size");
        v
    }
}

/// `PAL_SET_ANY`: the set id whose path nodes are the union of every applied policy's.
pub const SET_ANY: u32 = 0;

/// `struct pal_alias_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AliasKey {
    /// Kernel encoding: `major << 20 | minor`.
    pub dev: u32,
    pub _pad: u32,
    pub ino: u64,
}

/// `struct pal_alias`: the protected name of a hard-linked file, as trie key bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias {
    pub prefixlen: u32,
    pub path: [u8; KEY_PATH],
}

/// `struct pal_uid_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct UidKey {
    pub set: u32,
    pub rule: u32,
    pub uid: u32,
}

/// `struct pal_net_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetKey {
    pub prefixlen: u32,
    pub set: u32,
    pub family: u8,
    pub addr: [u8; 16],
    pub _pad: [u8; 3],
}

/// `struct pal_net_cand`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCand {
    pub rule: u16,
    pub port: u16,
    pub action: u8,
    pub cond: u8,
    pub proto: u8,
    pub _pad: u8,
}

/// `struct pal_net_val`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetVal {
    pub cand: [NetCand; NET_CANDS],
}

/// `struct pal_decision` (ring-buffer record, `hdr.kind == events::kind::ENFORCE`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub hdr: Hdr,
    pub set_id: u32,
    pub rule: u16,
    pub action: u8,
    pub op: u8,
    pub hook: u8,
    pub mechanism: u8,
    pub prevented: u8,
    pub family: u8,
    pub err: i32,
    pub flags: u32,
    pub path_len: u16,
    pub path2_len: u16,
    pub port: u16,
    pub _pad: u16,
    pub addr: [u8; 16],
    pub comm: [u8; 16],
    pub path: [u8; REC_PATH],
    pub path2: [u8; REC_PATH],
}

impl Default for Decision {
    fn default() -> Self {
        // SAFETY: plain data, all zero is valid.
        unsafe { std::mem::zeroed() }
    }
}

macro_rules! plain_pod {
    ($($t:ty),*) => {$(
        // SAFETY: plain-old-data, every bit pattern is valid.
        unsafe impl plain::Plain for $t {}
    )*};
}
plain_pod!(
    Binding, SetCfg, TrieKey, Cand, TrieVal, AliasKey, Alias, UidKey, NetKey, NetCand, NetVal,
    Decision
);

/// Bytes of a plain value, for map keys and values.
pub fn bytes_of<T: plain::Plain>(v: &T) -> &[u8] {
    // SAFETY: T is plain data with no padding-dependent invariants; reading its bytes is sound.
    unsafe { plain::as_bytes(v) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn layouts_match_enforce_h() {
        assert_eq!(size_of::<Binding>(), 8 + 4 * SETS + 8);
        assert_eq!(size_of::<SetCfg>(), 12);
        assert_eq!(size_of::<TrieKey>(), 256);
        assert_eq!(size_of::<TrieVal>(), 256);
        assert_eq!(size_of::<UidKey>(), 12);
        assert_eq!(size_of::<AliasKey>(), 16);
        assert_eq!(size_of::<Alias>(), 4 + KEY_PATH);
        assert_eq!(size_of::<NetKey>(), 28);
        assert_eq!(size_of::<NetVal>(), 8 * NET_CANDS);
        assert_eq!(
            size_of::<Decision>(),
            // 1116 bytes of fields, padded to the header's 8-byte alignment, as in C
            (32 + 4 + 4 + 4 + 4 + 4 + 8 + 16 + 16 + 2 * REC_PATH + 7) / 8 * 8
        );
    }
}
