//! Kernel numbers to the names Tetragon prints (uapi enums, x86_64 syscall numbers).

/// x86_64 syscall name (without the `__x64_sys_` prefix) of the numbers detect.bpf.c watches.
pub fn syscall(nr: u64) -> &'static str {
    match nr {
        9 => "mmap",
        43 => "accept",
        56 => "clone",
        105 => "setuid",
        106 => "setgid",
        113 => "setreuid",
        114 => "setregid",
        117 => "setresuid",
        119 => "setresgid",
        122 => "setfsuid",
        123 => "setfsgid",
        126 => "capset",
        175 => "init_module",
        272 => "unshare",
        288 => "accept4",
        313 => "finit_module",
        321 => "bpf",
        435 => "clone3",
        _ => "unknown",
    }
}

const PROG_TYPES: [&str; 33] = [
    "UNSPEC",
    "SOCKET_FILTER",
    "KPROBE",
    "SCHED_CLS",
    "SCHED_ACT",
    "TRACEPOINT",
    "XDP",
    "PERF_EVENT",
    "CGROUP_SKB",
    "CGROUP_SOCK",
    "LWT_IN",
    "LWT_OUT",
    "LWT_XMIT",
    "SOCK_OPS",
    "SK_SKB",
    "CGROUP_DEVICE",
    "SK_MSG",
    "RAW_TRACEPOINT",
    "CGROUP_SOCK_ADDR",
    "LWT_SEG6LOCAL",
    "LIRC_MODE2",
    "SK_REUSEPORT",
    "FLOW_DISSECTOR",
    "CGROUP_SYSCTL",
    "RAW_TRACEPOINT_WRITABLE",
    "CGROUP_SOCKOPT",
    "TRACING",
    "STRUCT_OPS",
    "EXT",
    "LSM",
    "SK_LOOKUP",
    "SYSCALL",
    "NETFILTER",
];

const MAP_TYPES: [&str; 34] = [
    "UNSPEC",
    "HASH",
    "ARRAY",
    "PROG_ARRAY",
    "PERF_EVENT_ARRAY",
    "PERCPU_HASH",
    "PERCPU_ARRAY",
    "STACK_TRACE",
    "CGROUP_ARRAY",
    "LRU_HASH",
    "LRU_PERCPU_HASH",
    "LPM_TRIE",
    "ARRAY_OF_MAPS",
    "HASH_OF_MAPS",
    "DEVMAP",
    "SOCKMAP",
    "CPUMAP",
    "XSKMAP",
    "SOCKHASH",
    "CGROUP_STORAGE",
    "REUSEPORT_SOCKARRAY",
    "PERCPU_CGROUP_STORAGE",
    "QUEUE",
    "STACK",
    "SK_STORAGE",
    "DEVMAP_HASH",
    "STRUCT_OPS",
    "RINGBUF",
    "INODE_STORAGE",
    "TASK_STORAGE",
    "BLOOM_FILTER",
    "USER_RINGBUF",
    "CGRP_STORAGE",
    "ARENA",
];

/// `BPF_PROG_TYPE_SOCKET_FILTER` for 1.
pub fn prog_type(t: u64) -> String {
    PROG_TYPES.get(t as usize).map_or_else(
        || format!("BPF_PROG_TYPE_{t}"),
        |n| format!("BPF_PROG_TYPE_{n}"),
    )
}

/// `BPF_MAP_TYPE_HASH` for 1.
pub fn map_type(t: u64) -> String {
    MAP_TYPES.get(t as usize).map_or_else(
        || format!("BPF_MAP_TYPE_{t}"),
        |n| format!("BPF_MAP_TYPE_{n}"),
    )
}

const TCP_STATES: [&str; 13] = [
    "",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
];

/// `TCP_ESTABLISHED` for 1 (Tetragon's `sock_arg.state` spelling).
pub fn tcp_state(s: u64) -> String {
    match TCP_STATES.get(s as usize) {
        Some(n) if !n.is_empty() => format!("TCP_{n}"),
        _ => format!("TCP_STATE_{s}"),
    }
}

/// Namespace flags of clone/unshare, `|`-joined (`CLONE_NEWUSER|CLONE_NEWNS`).
pub fn clone_namespaces(flags: u64) -> String {
    const NS: [(u64, &str); 8] = [
        (0x1000_0000, "CLONE_NEWUSER"),
        (0x0002_0000, "CLONE_NEWNS"),
        (0x2000_0000, "CLONE_NEWPID"),
        (0x4000_0000, "CLONE_NEWNET"),
        (0x0400_0000, "CLONE_NEWUTS"),
        (0x0800_0000, "CLONE_NEWIPC"),
        (0x0200_0000, "CLONE_NEWCGROUP"),
        (0x0000_0080, "CLONE_NEWTIME"),
    ];
    NS.iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

/// Module taint bits (`struct module.taints`) as Tetragon's `TaintedBitsType` names.
pub fn module_taints(bits: u64) -> Vec<&'static str> {
    const T: [(u32, &str); 8] = [
        (0, "TAINT_PROPRIETARY_MODULE"),
        (1, "TAINT_FORCED_MODULE"),
        (2, "TAINT_FORCED_UNLOAD_MODULE"),
        (10, "TAINT_STAGED_MODULE"),
        (12, "TAINT_OUT_OF_TREE_MODULE"),
        (13, "TAINT_UNSIGNED_MODULE"),
        (15, "TAINT_KERNEL_LIVEPATCH_MODULE"),
        (18, "TAINT_TEST_MODULE"),
    ];
    T.iter()
        .filter(|(b, _)| bits & (1 << b) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// `-EPERM` -> `EPERM`, for messages.
pub fn errno(ret: i64) -> Option<String> {
    (-4095..0)
        .contains(&ret)
        .then(|| format!("{:?}", nix::errno::Errno::from_raw((-ret) as i32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_like_the_uapi() {
        assert_eq!(prog_type(1), "BPF_PROG_TYPE_SOCKET_FILTER");
        assert_eq!(prog_type(32), "BPF_PROG_TYPE_NETFILTER");
        assert_eq!(map_type(27), "BPF_MAP_TYPE_RINGBUF");
        assert_eq!(tcp_state(2), "TCP_SYN_SENT");
        assert_eq!(clone_namespaces(0x1002_0000), "CLONE_NEWUSER|CLONE_NEWNS");
        assert_eq!(errno(-1).as_deref(), Some("EPERM"));
        assert_eq!(errno(3), None);
        assert_eq!(
            module_taints(1 << 12 | 1 << 13),
            ["TAINT_OUT_OF_TREE_MODULE", "TAINT_UNSIGNED_MODULE"]
        );
    }
}
