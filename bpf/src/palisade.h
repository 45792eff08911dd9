/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * palisade: the one header shared by every BPF object and mirrored by hand in
 * bpf/src/events.rs (libbpf-cargo only emits Rust types reachable from maps).
 * Keep the two in sync: a layout test in events.rs checks the sizes.
 */
#ifndef PALISADE_H
#define PALISADE_H

#define PAL_PATH_MAX 4096	/* bytes of a resolved path, power of two */
#define PAL_ARGS_MAX 1024	/* bytes of argv captured at exec, power of two */
#define PAL_NAME_MAX 256	/* one path component, power of two */
#define PAL_PATH_DEPTH 48	/* components walked before a path counts as truncated */
#define PAL_DATA_MAX 16384	/* variable tail of an event, power of two */

enum pal_event_kind {
	PAL_EV_EXEC = 1,
	PAL_EV_EXIT = 2,
	PAL_EV_FORK = 3,
	PAL_EV_ENFORCE = 16,
};

/* pal_exec.flags */
#define PAL_F_TRUNC_PATH (1u << 0)   /* binary path deeper than PAL_PATH_DEPTH or longer than PAL_PATH_MAX */
#define PAL_F_TRUNC_ARGS (1u << 1)   /* argv longer than PAL_ARGS_MAX */
#define PAL_F_TRUNC_CWD (1u << 2)
#define PAL_F_PARENT_MISS (1u << 3)  /* parent not tracked since its exec: its start time stands in */
#define PAL_F_ERR_ARGS (1u << 4)
#define PAL_F_SECUREEXEC (1u << 5)   /* bprm->secureexec: the exec changed credentials */

/* Common header of every ring-buffer record. */
struct pal_hdr {
	__u32 kind;
	__u32 size;		/* whole record, header included */
	__u64 ktime;		/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 pid;		/* tgid, host pid namespace */
	__u32 tid;
	__u64 cgroup_id;	/* cgroup v2 id (inode of the cgroup2 directory) */
};

struct pal_creds {
	__u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cap_inheritable;
};

/* Followed by data[]: path (path_len bytes, no NUL), argv (args_len bytes, NUL separated),
 * cwd (cwd_len bytes). */
struct pal_exec {
	struct pal_hdr hdr;
	__u32 ppid;
	__u32 flags;
	__u64 parent_ktime;	/* exec ktime of the parent: the parent's exec_id */
	__u64 start_ktime;	/* task start time (CLOCK_MONOTONIC ns) */
	struct pal_creds creds;
	__u64 ino;		/* executed file */
	__u32 nlink;
	__u32 mode;
	__u32 file_uid;
	__u32 file_gid;
	__u32 dev;
	__u32 auid;
	__u16 path_len;
	__u16 args_len;
	__u16 cwd_len;
	__u16 _pad;
	char comm[16];
};

struct pal_exit {
	struct pal_hdr hdr;
	__u64 exec_ktime;	/* the exiting process's exec_id ktime */
	__u32 exit_code;	/* raw task->exit_code: status << 8 | signal */
	__u32 ppid;
};

/* A new thread group; no exec yet, so it inherits the parent's image. */
struct pal_fork {
	struct pal_hdr hdr;
	__u64 parent_ktime;
	__u32 ppid;
	__u32 _pad;
};

/* Per-process record kept in the kernel so that exec ids never depend on userspace. */
struct pal_proc {
	__u64 exec_ktime;
	__u64 parent_ktime;
	__u32 ppid;
	__u32 flags;
};

/* Indices of the per-CPU stats array. */
enum pal_stat {
	PAL_STAT_EVENTS = 0,		/* records written to the ring buffer */
	PAL_STAT_RB_DROPS = 1,		/* records lost because the ring buffer was full */
	PAL_STAT_PROC_MAP_FULL = 2,	/* process map updates refused */
	PAL_STAT_MAX = 16,
};

#endif
