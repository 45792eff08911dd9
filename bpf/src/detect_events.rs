//! `#[repr(C)]` mirror of the record `detect.bpf.c` emits (`struct pal_detect`), with the meaning
//! of its op-specific fields. Records share the process ring buffer; kinds 32..63 are this
//! object's.

use crate::events::{Creds, Hdr};

/// `PAL_EV_DETECT`: the record kind of every detection.
pub const KIND: u32 = 32;

/// `enum pal_det_op`: what happened; `arg[]` per op as commented.
pub mod op {
    /// set*id asking for id 0: arg0 syscall nr, arg1..3 ids as passed (0xffffffff = unchanged).
    pub const SETID: u32 = 1;
    /// capset raising a set: arg0 effective, arg1 permitted, arg2 inheritable requested.
    pub const CAPSET: u32 = 2;
    /// New user namespace by a caller without CAP_SYS_ADMIN: arg0 syscall nr, arg1 flags.
    pub const USERNS: u32 = 3;
    /// bpf(BPF_PROG_LOAD): arg0 program type, arg1 instruction count; data = name.
    pub const BPF_PROG: u32 = 4;
    /// bpf(BPF_MAP_CREATE): arg0 map type, arg1 key size, arg2 value size, arg3 max entries.
    pub const BPF_MAP: u32 = 5;
    /// init_module/finit_module: arg0 syscall nr, arg1 finit flags, arg2 image length; data = file.
    pub const MODULE_SYSCALL: u32 = 6;
    /// A module was loaded: arg0 taints; data = name.
    pub const MODULE_LOAD: u32 = 7;
    /// The kernel asked for a module: arg0 wait; data = requested name.
    pub const MODULE_REQUEST: u32 = 8;
    /// First executable mapping of a file by a process image: arg0 inode, arg1 dev, arg2 prot,
    /// arg3 flags; data = path.
    pub const LOADER: u32 = 9;
    /// TCP connect and its outcome (ret = -errno): arg0 family, arg1 sport, arg2 dport,
    /// arg3 old state << 8 | new state.
    pub const TCP_CONNECT: u32 = 10;
    /// TCP accept returned a socket (ret = fd).
    pub const TCP_ACCEPT: u32 = 11;
    /// TCP socket closed by its owner, or reset.
    pub const TCP_CLOSE: u32 = 12;
}

/// `enum pal_det_hook`: which hook produced the record.
pub mod hook {
    /// `tp_btf/sys_exit` (raw_syscalls:sys_exit), arguments parked at `tp_btf/sys_enter`.
    pub const SYS_EXIT: u32 = 1;
    /// `tp_btf/inet_sock_set_state`.
    pub const SOCK_STATE: u32 = 2;
    /// `tp_btf/module_load`.
    pub const MODULE_LOAD: u32 = 3;
    /// `tp_btf/module_request`.
    pub const MODULE_REQUEST: u32 = 4;
    /// BPF LSM hooks (`detect_lsm.bpf.c`), in the order of `LSM_NAMES`.
    pub const LSM_FIRST: u32 = 16;
    /// `lsm/<name>` of hook `LSM_FIRST + i`.
    pub const LSM_NAMES: [&str; 10] = [
        "task_fix_setuid",
        "task_fix_setgid",
        "capset",
        "userns_create",
        "bpf",
        "kernel_module_request",
        "kernel_read_file",
        "kernel_load_data",
        "mmap_file",
        "socket_connect",
    ];
}

/// `pal_detect.flags`.
pub mod flags {
    /// The path in data[] was truncated.
    pub const TRUNC: u32 = 1 << 0;
    /// Process fields are the socket owner's (the state change ran in another context).
    pub const OWNER: u32 = 1 << 1;
}

/// `struct pal_detect`, followed by `data_len` bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Detect {
    pub hdr: Hdr,
    pub op: u32,
    pub hook: u32,
    pub ret: i64,
    pub arg: [u64; 6],
    pub creds: Creds,
    pub old: Creds,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub flags: u32,
    pub data_len: u32,
    pub comm: [u8; 16],
}

// SAFETY: plain-old-data, every bit pattern is valid.
unsafe impl plain::Plain for Detect {}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_matches_detect_bpf_c() {
        assert_eq!(std::mem::size_of::<super::Detect>(), 264);
    }
}
