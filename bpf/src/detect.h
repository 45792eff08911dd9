/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * What detect.bpf.c (tracepoints) and detect_lsm.bpf.c (BPF LSM hooks) share: the record both
 * emit into the process ring buffer, its op/hook numbering, and the helpers that fill it. Each
 * object gets its own copy of the maps declared here; the loader points `events` and `stats` of
 * both at the process sensor's maps (reuse_fd), so there is one ring and one set of counters.
 */
#ifndef PAL_DETECT_H
#define PAL_DETECT_H

/* Record kinds 32..63 belong to this object (palisade.h owns 1..31). */
#define PAL_EV_DETECT 32

/* pal_detect.op: what happened (the meaning of arg[] per op is in detect_events.rs) */
enum pal_det_op {
	PAL_DOP_SETID = 1,		/* arg0 nr, arg1..3 ids as passed */
	PAL_DOP_CAPSET = 2,		/* arg0 effective, arg1 permitted, arg2 inheritable requested */
	PAL_DOP_USERNS = 3,		/* arg0 nr, arg1 clone/unshare flags */
	PAL_DOP_BPF_PROG = 4,		/* arg0 prog type, arg1 insn count; data = name */
	PAL_DOP_BPF_MAP = 5,		/* arg0 map type, arg1 key, arg2 value, arg3 max entries; data = name */
	PAL_DOP_MODULE_SYSCALL = 6,	/* arg0 nr, arg1 flags (finit), arg2 image length (init); data = file */
	PAL_DOP_MODULE_LOAD = 7,	/* arg0 taints; data = module name */
	PAL_DOP_MODULE_REQUEST = 8,	/* arg0 wait; data = requested name */
	PAL_DOP_LOADER = 9,		/* arg0 inode, arg1 dev, arg2 prot, arg3 flags; data = path */
	PAL_DOP_TCP_CONNECT = 10,	/* arg0 family, arg1 sport, arg2 dport, arg3 new state; ret = -sk_err */
	PAL_DOP_TCP_ACCEPT = 11,
	PAL_DOP_TCP_CLOSE = 12,		/* arg3 = old state << 8 | new state */
};

/* pal_detect.hook */
enum pal_det_hook {
	PAL_DHOOK_SYS_EXIT = 1,		/* tp_btf/sys_exit (raw_syscalls:sys_exit) */
	PAL_DHOOK_SOCK_STATE = 2,	/* tp_btf/inet_sock_set_state (sock:inet_sock_set_state) */
	PAL_DHOOK_MODULE_LOAD = 3,	/* tp_btf/module_load (module:module_load) */
	PAL_DHOOK_MODULE_REQUEST = 4,	/* tp_btf/module_request (module:module_request) */
	/* BPF LSM hooks (detect_lsm.bpf.c): the operation as the kernel is about to perform it,
	 * after its own permission checks */
	PAL_DHOOK_LSM_TASK_FIX_SETUID = 16,
	PAL_DHOOK_LSM_TASK_FIX_SETGID = 17,
	PAL_DHOOK_LSM_CAPSET = 18,
	PAL_DHOOK_LSM_USERNS_CREATE = 19,
	PAL_DHOOK_LSM_BPF = 20,
	PAL_DHOOK_LSM_KERNEL_MODULE_REQUEST = 21,
	PAL_DHOOK_LSM_KERNEL_READ_FILE = 22,
	PAL_DHOOK_LSM_KERNEL_LOAD_DATA = 23,
	PAL_DHOOK_LSM_MMAP_FILE = 24,
	PAL_DHOOK_LSM_SOCKET_CONNECT = 25,
};

/* pal_detect.flags */
#define PAL_DF_TRUNC (1u << 0)		/* data[] (a path) was truncated */
#define PAL_DF_OWNER (1u << 1)		/* process fields are the socket owner's, not current's */

struct pal_detect {
	struct pal_hdr hdr;
	__u32 op;
	__u32 hook;
	__s64 ret;		/* syscall result (or -errno of a failed connect) */
	__u64 arg[6];
	struct pal_creds creds;	/* current credentials after the operation */
	struct pal_creds old;	/* credentials when the syscall entered */
	__u8 saddr[16];		/* TCP: IPv4 in the first 4 bytes, or IPv6 */
	__u8 daddr[16];
	__u32 flags;
	__u32 data_len;		/* bytes following the record */
	char comm[16];
};

/* Syscall numbers watched (x86_64). */
#define NR_MMAP 9
#define NR_ACCEPT 43
#define NR_CLONE 56
#define NR_SETUID 105
#define NR_SETGID 106
#define NR_SETREUID 113
#define NR_SETREGID 114
#define NR_SETRESUID 117
#define NR_SETRESGID 119
#define NR_SETFSUID 122
#define NR_SETFSGID 123
#define NR_CAPSET 126
#define NR_INIT_MODULE 175
#define NR_UNSHARE 272
#define NR_ACCEPT4 288
#define NR_FINIT_MODULE 313
#define NR_BPF 321
#define NR_CLONE3 435

#define CLONE_NEWUSER_FLAG 0x10000000ULL
#define CAP_SYS_ADMIN_BIT 21
#define PROT_EXEC_FLAG 0x4
#define BPF_MAP_CREATE_CMD 0
#define BPF_PROG_LOAD_CMD 5
#define AF_INET_N 2
#define AF_INET6_N 10
#define IPPROTO_TCP_N 6

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* The process sensor's counters too (fd reused by the loader): records written and records
 * lost to a full ring buffer are counted once for the shared ring, and `palisade status` shows
 * them. PAL_DSTAT_PENDING_FULL is this object's own slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PAL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

#define PAL_DSTAT_PENDING_FULL 8	/* syscall arguments not parked: pending map full */

/* Executable file mappings already reported: one event per (process image, file). */
struct loader_key {
	__u64 mm;		/* changes on exec, so a new image reports its libraries again */
	__u64 ino;
	__u32 dev;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct loader_key);
	__type(value, __u8);
} loader_seen SEC(".maps");

struct detect_buf {
	struct pal_detect ev;
	char data[PAL_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct detect_buf);
} detect_heap SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/* kernel_cap_t before 6.3 */
struct kernel_cap_struct___old {
	__u32 cap[2];
} __attribute__((preserve_access_index));

/* kernel_cap_t is { u64 val } since 6.3 and { u32 cap[2] } before (the 6.1 lab kernel) */
static __always_inline __u64 cap_u64(kernel_cap_t c)
{
	if (bpf_core_field_exists(c.val))
		return c.val;
	struct kernel_cap_struct___old *o = (void *)&c;
	return (__u64)o->cap[0] | (__u64)o->cap[1] << 32;
}

/* Direct loads through a BTF-typed cred (no helper call per field: this runs on every watched
 * syscall, e.g. each setuid(0) by a root daemon). */
static __always_inline void cred_to(struct pal_creds *o, const struct cred *cred)
{
	o->uid = cred->uid.val;
	o->gid = cred->gid.val;
	o->euid = cred->euid.val;
	o->egid = cred->egid.val;
	o->suid = cred->suid.val;
	o->sgid = cred->sgid.val;
	o->fsuid = cred->fsuid.val;
	o->fsgid = cred->fsgid.val;
	o->cap_permitted = cap_u64(cred->cap_permitted);
	o->cap_effective = cap_u64(cred->cap_effective);
	o->cap_inheritable = cap_u64(cred->cap_inheritable);
}

static __always_inline void read_creds(struct pal_creds *o)
{
	struct task_struct *task = bpf_get_current_task_btf();

	cred_to(o, task->cred);
}

/* A zeroed record for the current task in the per-CPU buffer. */
static __always_inline struct detect_buf *new_record(__u32 op, __u32 hook)
{
	__u32 zero = 0;
	struct detect_buf *b = bpf_map_lookup_elem(&detect_heap, &zero);
	if (!b)
		return NULL;
	struct pal_detect *e = &b->ev;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.kind = PAL_EV_DETECT;
	e->hdr.ktime = bpf_ktime_get_ns();
	e->hdr.pid = pid_tgid >> 32;
	e->hdr.tid = (__u32)pid_tgid;
	e->hdr.cgroup_id = bpf_get_current_cgroup_id();
	e->op = op;
	e->hook = hook;
	read_creds(&e->creds);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return b;
}

static __always_inline void emit(struct detect_buf *b)
{
	__u64 size = sizeof(b->ev) + (b->ev.data_len & (PAL_PATH_MAX - 1));

	b->ev.hdr.size = size;
	if (size > sizeof(*b))
		return;
	if (bpf_ringbuf_output(&events, b, size, 0))
		stat_inc(PAL_STAT_RB_DROPS);
	else
		stat_inc(PAL_STAT_EVENTS);
}

/* Resolves a path into b->data. */
static __always_inline void put_path(struct detect_buf *b, struct dentry *dentry, struct vfsmount *mnt)
{
	struct pal_walked w = {};
	struct pal_path_scratch *s = pal_walk_path(dentry, mnt, &w);
	__u32 len = w.len & (PAL_PATH_MAX - 1);

	if (w.truncated)
		b->ev.flags |= PAL_DF_TRUNC;
	if (!s || !len)
		return;
	bpf_probe_read_kernel(b->data, len, &s->buf[w.off & (PAL_PATH_MAX - 1)]);
	b->ev.data_len = len;
}

#endif /* PAL_DETECT_H */
