// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Self-protection: a "contained" process (not the agent, and in a child pid or user namespace
 * or in a mount namespace other than the host's) may not obtain fds of palisade's maps, programs
 * and links, touch its bpffs pins, or signal/ptrace the agent, whatever its capabilities.
 *
 *   bpf_map / bpf_prog   every new fd of a map/prog (BPF_*_GET_FD_BY_ID, BPF_OBJ_GET of a pin)
 *                        is created through security_bpf_map/prog: refused for protected ids.
 *   bpf                  links have no such hook: BPF_LINK_GET_FD_BY_ID of a protected id is
 *                        refused; BPF_LINK_UPDATE/DETACH and the map update/delete/freeze
 *                        commands resolve their fd to its link or map (an fd that leaked in).
 *   inode_permission     protected bpffs inodes (the pin directory and everything pinned under
 *   inode_unlink/rmdir/  it, identified by device and inode number, so bind mounts change
 *   inode_rename         nothing): no lookup, open, unlink, rename or rmdir.
 *   task_kill            no signal to any thread of the agent.
 *   ptrace_access_check  no ptrace, /proc/<agent>/{mem,fd,environ}, pidfd_getfd on the agent.
 *
 * Every refusal is reported on pal_protect_events. The same bodies load as lsm/ programs when
 * `bpf` is an active LSM, else as fmod_ret/ programs on the security_* functions.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EPERM 1
#define BPF_FS_MAGIC 0xcafe4a11

/* Kinds of protected objects (key.kind). */
enum {
	PK_MAP = 1,
	PK_PROG = 2,
	PK_LINK = 3,
	PK_INODE = 4,	/* key.dev = kernel s_dev, key.id = inode number */
	PK_TASK = 5,	/* events only: target id = the agent's tgid */
};

/* Hooks, as reported in events (index into the userspace name table, 1-based). */
enum {
	PH_BPF_MAP = 1,
	PH_BPF_PROG = 2,
	PH_BPF = 3,
	PH_INODE_PERMISSION = 4,
	PH_INODE_UNLINK = 5,
	PH_INODE_RMDIR = 6,
	PH_INODE_RENAME = 7,
	PH_TASK_KILL = 8,
	PH_PTRACE = 9,
};

struct pal_protect_cfg {
	__u32 enabled;
	__u32 agent_tgid;	/* 0 while no agent runs: nothing is exempt by pid then */
	__u32 host_mntns;	/* inode of pid 1's mount namespace */
	__u32 pad;
};

struct pal_protect_key {
	__u32 kind;
	__u32 dev;
	__u64 id;
};

struct pal_protect_event {
	__u64 ktime;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 hook;
	__u32 target_kind;
	__u64 target_id;
	__u32 arg;		/* bpf cmd, signal, ptrace mode or permission mask */
	__u32 pidns_level;
	__u32 mntns;
	__u32 pad;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pal_protect_cfg);
} pal_protect_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct pal_protect_key);
	__type(value, __u8);
} pal_protected SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} pal_protect_events SEC(".maps");

/* [0] refusals, [1] events lost (ring buffer full) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pal_protect_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&pal_protect_stats, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Whether the current task must be kept away from palisade's objects. */
static __always_inline bool contained(void)
{
	__u32 zero = 0;
	struct pal_protect_cfg *c = bpf_map_lookup_elem(&pal_protect_cfg, &zero);
	if (!c || !c->enabled)
		return false;
	struct task_struct *t = bpf_get_current_task_btf();
	if (c->agent_tgid && t->tgid == c->agent_tgid)
		return false;
	if (BPF_CORE_READ(t, thread_pid, level) > 0)
		return true;
	if (BPF_CORE_READ(t, cred, user_ns, level) > 0)
		return true;
	/* a task without nsproxy (exiting) reads 0 here: contained, which is the safe side */
	return BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum) != c->host_mntns;
}

static __always_inline bool is_protected(__u32 kind, __u32 dev, __u64 id)
{
	struct pal_protect_key k = { .kind = kind, .dev = dev, .id = id };
	return bpf_map_lookup_elem(&pal_protected, &k) != NULL;
}

/* Reports a refusal and returns -EPERM. */
static __always_inline int refuse(__u32 hook, __u32 kind, __u64 id, __u32 arg)
{
	count(0);
	struct pal_protect_event *e = bpf_ringbuf_reserve(&pal_protect_events, sizeof(*e), 0);
	if (!e) {
		count(1);
		return -EPERM;
	}
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 pt = bpf_get_current_pid_tgid();
	e->ktime = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = pt >> 32;
	e->tid = (__u32)pt;
	e->hook = hook;
	e->target_kind = kind;
	e->target_id = id;
	e->arg = arg;
	e->pidns_level = BPF_CORE_READ(t, thread_pid, level);
	e->mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return -EPERM;
}

static __always_inline int do_bpf_map(struct bpf_map *map)
{
	__u32 id = BPF_CORE_READ(map, id);
	if (is_protected(PK_MAP, 0, id) && contained())
		return refuse(PH_BPF_MAP, PK_MAP, id, 0);
	return 0;
}

static __always_inline int do_bpf_prog(struct bpf_prog *prog)
{
	__u32 id = BPF_CORE_READ(prog, aux, id);
	if (is_protected(PK_PROG, 0, id) && contained())
		return refuse(PH_BPF_PROG, PK_PROG, id, 0);
	return 0;
}

/* The id of the map (want_link false) or link behind fd `fd` of the current task, 0 when the
 * fd is not one. */
static __always_inline __u32 id_of_fd(__u32 fd, bool want_link)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	/* bpf_map_new_fd() and bpf_link_prime() name their anon inode files "bpf-map" and
	 * "bpf-link" ("bpf_link" on recent kernels); nothing else can pair those names with a
	 * private_data pointing at a map or a link */
	char n[9] = {};
	const unsigned char *name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(n, sizeof(n), name) < 8)
		return 0;
	void *obj = BPF_CORE_READ(f, private_data);
	if (want_link) {
		if (n[0] != 'b' || n[1] != 'p' || n[2] != 'f' || (n[3] != '_' && n[3] != '-') || n[4] != 'l' ||
		    n[5] != 'i' || n[6] != 'n' || n[7] != 'k' || n[8] != 0)
			return 0;
		return BPF_CORE_READ((struct bpf_link *)obj, id);
	}
	if (n[0] != 'b' || n[1] != 'p' || n[2] != 'f' || n[3] != '-' || n[4] != 'm' ||
	    n[5] != 'a' || n[6] != 'p' || n[7] != 0)
		return 0;
	return BPF_CORE_READ((struct bpf_map *)obj, id);
}

/* Commands that act on an fd the caller already holds (passed in, inherited): refused for
 * protected links and maps too, in case such an fd ever reaches a container. Reads stay
 * allowed. */
static __always_inline int do_bpf(int cmd, union bpf_attr *attr)
{
	__u32 id = 0, kind = PK_LINK;
	switch (cmd) {
	case BPF_LINK_GET_FD_BY_ID:
		id = BPF_CORE_READ(attr, link_id);
		break;
	case BPF_LINK_UPDATE:
		id = id_of_fd(BPF_CORE_READ(attr, link_update.link_fd), true);
		break;
	case BPF_LINK_DETACH:
		id = id_of_fd(BPF_CORE_READ(attr, link_detach.link_fd), true);
		break;
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_DELETE_ELEM:
	case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
	case BPF_MAP_FREEZE:
		if (!contained())
			return 0;
		kind = PK_MAP;
		id = id_of_fd(BPF_CORE_READ(attr, map_fd), false);
		break;
	case BPF_MAP_UPDATE_BATCH:
	case BPF_MAP_DELETE_BATCH:
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		if (!contained())
			return 0;
		kind = PK_MAP;
		id = id_of_fd(BPF_CORE_READ(attr, batch.map_fd), false);
		break;
	default:
		return 0;
	}
	if (id && is_protected(kind, 0, id) && contained())
		return refuse(PH_BPF, kind, id, cmd);
	return 0;
}

static __always_inline int do_inode(__u32 hook, struct inode *inode, __u32 arg)
{
	if (!inode)
		return 0;
	struct super_block *sb = BPF_CORE_READ(inode, i_sb);
	if (BPF_CORE_READ(sb, s_magic) != BPF_FS_MAGIC)
		return 0;
	__u32 dev = BPF_CORE_READ(sb, s_dev);
	__u64 ino = BPF_CORE_READ(inode, i_ino);
	if (is_protected(PK_INODE, dev, ino) && contained())
		return refuse(hook, PK_INODE, ino, arg);
	return 0;
}

static __always_inline int do_dentry(__u32 hook, struct dentry *d)
{
	return d ? do_inode(hook, BPF_CORE_READ(d, d_inode), 0) : 0;
}

static __always_inline int do_task(__u32 hook, struct task_struct *p, __u32 arg)
{
	__u32 zero = 0;
	struct pal_protect_cfg *c = bpf_map_lookup_elem(&pal_protect_cfg, &zero);
	if (!c || !c->agent_tgid)
		return 0;
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (tgid == c->agent_tgid && contained())
		return refuse(hook, PK_TASK, tgid, arg);
	return 0;
}

/* An earlier denial (another BPF program on the same hook) stays a denial; LSM programs must
 * return a provable value in [-4095, 0], hence the sign shift (see enforce.bpf.c). */
static __always_inline int lsm_ret(int v)
{
	barrier_var(v);
	return v >> 31;
}
#define KEEP(ret, v) ((ret) ? -EPERM : (v))

SEC("lsm/bpf_map")
int BPF_PROG(pal_plsm_bpf_map, struct bpf_map *map, fmode_t fmode, int ret)
{
	return lsm_ret(KEEP(ret, do_bpf_map(map)));
}
SEC("fmod_ret/security_bpf_map")
int BPF_PROG(pal_pfmod_bpf_map, struct bpf_map *map, fmode_t fmode, int ret)
{
	return KEEP(ret, do_bpf_map(map));
}

SEC("lsm/bpf_prog")
int BPF_PROG(pal_plsm_bpf_prog, struct bpf_prog *prog, int ret)
{
	return lsm_ret(KEEP(ret, do_bpf_prog(prog)));
}
SEC("fmod_ret/security_bpf_prog")
int BPF_PROG(pal_pfmod_bpf_prog, struct bpf_prog *prog, int ret)
{
	return KEEP(ret, do_bpf_prog(prog));
}

/* security_bpf() gained a fourth argument (`bool kernel`) in 6.15, so the position of `ret`
 * differs between kernels: it is not read here, and an earlier program's denial on this hook
 * could be turned into a success only on hooks palisade does not share with anyone. */
SEC("lsm/bpf")
int BPF_PROG(pal_plsm_bpf, int cmd, union bpf_attr *attr)
{
	return lsm_ret(do_bpf(cmd, attr));
}
SEC("fmod_ret/security_bpf")
int BPF_PROG(pal_pfmod_bpf, int cmd, union bpf_attr *attr)
{
	return do_bpf(cmd, attr);
}

SEC("lsm/inode_permission")
int BPF_PROG(pal_plsm_inode_permission, struct inode *inode, int mask, int ret)
{
	return lsm_ret(KEEP(ret, do_inode(PH_INODE_PERMISSION, inode, mask)));
}
SEC("fmod_ret/security_inode_permission")
int BPF_PROG(pal_pfmod_inode_permission, struct inode *inode, int mask, int ret)
{
	return KEEP(ret, do_inode(PH_INODE_PERMISSION, inode, mask));
}

SEC("lsm/inode_unlink")
int BPF_PROG(pal_plsm_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	return lsm_ret(KEEP(ret, do_dentry(PH_INODE_UNLINK, dentry)));
}
SEC("fmod_ret/security_inode_unlink")
int BPF_PROG(pal_pfmod_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	return KEEP(ret, do_dentry(PH_INODE_UNLINK, dentry));
}

SEC("lsm/inode_rmdir")
int BPF_PROG(pal_plsm_inode_rmdir, struct inode *dir, struct dentry *dentry, int ret)
{
	return lsm_ret(KEEP(ret, do_dentry(PH_INODE_RMDIR, dentry)));
}
SEC("fmod_ret/security_inode_rmdir")
int BPF_PROG(pal_pfmod_inode_rmdir, struct inode *dir, struct dentry *dentry, int ret)
{
	return KEEP(ret, do_dentry(PH_INODE_RMDIR, dentry));
}

static __always_inline int do_rename(struct dentry *old, struct dentry *new)
{
	return do_dentry(PH_INODE_RENAME, old) ?: do_dentry(PH_INODE_RENAME, new);
}

SEC("lsm/inode_rename")
int BPF_PROG(pal_plsm_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, int ret)
{
	return lsm_ret(KEEP(ret, do_rename(old_dentry, new_dentry)));
}
/* security_inode_rename() takes the rename flags too (the LSM hook does not) */
SEC("fmod_ret/security_inode_rename")
int BPF_PROG(pal_pfmod_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, unsigned int flags, int ret)
{
	return KEEP(ret, do_rename(old_dentry, new_dentry));
}

SEC("lsm/task_kill")
int BPF_PROG(pal_plsm_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	return lsm_ret(KEEP(ret, do_task(PH_TASK_KILL, p, sig)));
}
SEC("fmod_ret/security_task_kill")
int BPF_PROG(pal_pfmod_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	return KEEP(ret, do_task(PH_TASK_KILL, p, sig));
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(pal_plsm_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	return lsm_ret(KEEP(ret, do_task(PH_PTRACE, child, mode)));
}
SEC("fmod_ret/security_ptrace_access_check")
int BPF_PROG(pal_pfmod_ptrace_access_check, struct task_struct *child, unsigned int mode,
	     int ret)
{
	return KEEP(ret, do_task(PH_PTRACE, child, mode));
}
