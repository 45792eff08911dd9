// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Process lifecycle from tracepoints only (no kprobes, no trampolines needed):
 * exec, fork of a new thread group, and the exit of a whole thread group.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "palisade.h"
#include "path.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* tgid -> exec ktime, so exec ids are stable across the kernel/userspace boundary. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct pal_proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PAL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct exec_buf {
	struct pal_exec ev;
	char data[PAL_DATA_MAX];
};

struct heap {
	struct exec_buf exec;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct heap);
} heap SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline void emit(void *rec, __u64 size)
{
	if (bpf_ringbuf_output(&events, rec, size, 0))
		stat_inc(PAL_STAT_RB_DROPS);
	else
		stat_inc(PAL_STAT_EVENTS);
}

static __always_inline void fill_hdr(struct pal_hdr *h, __u32 kind, __u32 size, __u64 now)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->kind = kind;
	h->size = size;
	h->ktime = now;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->cgroup_id = bpf_get_current_cgroup_id();
}

static __always_inline __u64 cap_u64(kernel_cap_t c)
{
	/* kernel_cap_t is { u64 val } since 6.3 and { u32 cap[2] } before */
	if (bpf_core_field_exists(c.val))
		return BPF_CORE_READ(&c, val);
	return 0;
}

static __always_inline __u64 read_cap(const struct cred *cred, int which)
{
	kernel_cap_t c = {};

	switch (which) {
	case 0: c = BPF_CORE_READ(cred, cap_permitted); break;
	case 1: c = BPF_CORE_READ(cred, cap_effective); break;
	default: c = BPF_CORE_READ(cred, cap_inheritable); break;
	}
	return cap_u64(c);
}

/* Exec ktime of a task's thread group, or its start time when it predates us. */
static __always_inline __u64 group_ktime(struct task_struct *t, __u32 tgid, bool *miss)
{
	struct pal_proc *p = bpf_map_lookup_elem(&procs, &tgid);

	if (p)
		return p->exec_ktime;
	*miss = true;
	return BPF_CORE_READ(t, group_leader, start_time);
}

/* Resolves a path and copies it into dst; returns bytes copied (0 on failure). */
static __always_inline __u32 copy_path(char *dst, struct dentry *dentry, struct vfsmount *mnt, bool *truncated)
{
	struct pal_walked w = {};
	struct pal_path_scratch *s = pal_walk_path(dentry, mnt, &w);
	__u32 len = w.len & (PAL_PATH_MAX - 1);

	*truncated = w.truncated;
	if (!s)
		return 0;
	if (len)
		bpf_probe_read_kernel(dst, len, &s->buf[w.off & (PAL_PATH_MAX - 1)]);
	return len;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pal_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	struct heap *h = bpf_map_lookup_elem(&heap, &zero);
	if (!h)
		return 0;
	struct pal_exec *e = &h->exec.ev;
	char *data = h->exec.data;
	__u64 now = bpf_ktime_get_ns();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	__u32 ppid = BPF_CORE_READ(parent, tgid);
	bool miss = false;
	bool trunc = false;
	__u32 off = 0;

	e->flags = 0;
	e->ppid = ppid;
	e->parent_ktime = group_ktime(parent, ppid, &miss);
	if (miss)
		e->flags |= PAL_F_PARENT_MISS;
	e->start_ktime = BPF_CORE_READ(task, group_leader, start_time);

	const struct cred *cred = BPF_CORE_READ(task, cred);
	e->creds.uid = BPF_CORE_READ(cred, uid.val);
	e->creds.gid = BPF_CORE_READ(cred, gid.val);
	e->creds.euid = BPF_CORE_READ(cred, euid.val);
	e->creds.egid = BPF_CORE_READ(cred, egid.val);
	e->creds.suid = BPF_CORE_READ(cred, suid.val);
	e->creds.sgid = BPF_CORE_READ(cred, sgid.val);
	e->creds.fsuid = BPF_CORE_READ(cred, fsuid.val);
	e->creds.fsgid = BPF_CORE_READ(cred, fsgid.val);
	e->creds.cap_permitted = read_cap(cred, 0);
	e->creds.cap_effective = read_cap(cred, 1);
	e->creds.cap_inheritable = read_cap(cred, 2);
	e->auid = BPF_CORE_READ(task, loginuid.val);
	if (BPF_CORE_READ_BITFIELD_PROBED(bprm, secureexec))
		e->flags |= PAL_F_SECUREEXEC;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	struct file *file = BPF_CORE_READ(bprm, file);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->nlink = BPF_CORE_READ(inode, __i_nlink);
	e->mode = BPF_CORE_READ(inode, i_mode);
	e->file_uid = BPF_CORE_READ(inode, i_uid.val);
	e->file_gid = BPF_CORE_READ(inode, i_gid.val);
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);

	/* binary: the opened file, resolved against the mount namespace root */
	off = copy_path(data, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), &trunc);
	if (trunc)
		e->flags |= PAL_F_TRUNC_PATH;
	e->path_len = off;

	/* argv, straight from the new mm: the kernel has just written it */
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long as = BPF_CORE_READ(mm, arg_start), ae = BPF_CORE_READ(mm, arg_end);
	__u64 alen = ae > as ? ae - as : 0;
	if (alen > PAL_ARGS_MAX) {
		alen = PAL_ARGS_MAX;
		e->flags |= PAL_F_TRUNC_ARGS;
	}
	alen &= 2 * PAL_ARGS_MAX - 1;	/* a no-op that bounds alen for the verifier */
	if (alen && bpf_probe_read_user(&data[off & (PAL_PATH_MAX - 1)], alen, (void *)as)) {
		e->flags |= PAL_F_ERR_ARGS;
		alen = 0;
	}
	e->args_len = alen;
	off += alen;

	/* cwd */
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	off &= (2 * PAL_PATH_MAX - 1);
	e->cwd_len = copy_path(&data[off], BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), &trunc);
	if (trunc)
		e->flags |= PAL_F_TRUNC_CWD;
	off += e->cwd_len;

	struct pal_proc p = { .exec_ktime = now, .parent_ktime = e->parent_ktime, .ppid = ppid };
	if (bpf_map_update_elem(&procs, &tgid, &p, BPF_ANY))
		stat_inc(PAL_STAT_PROC_MAP_FULL);

	__u64 size = sizeof(*e) + (off & (PAL_DATA_MAX - 1));
	fill_hdr(&e->hdr, PAL_EV_EXEC, size, now);
	if (size <= sizeof(h->exec))
		emit(e, size);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pal_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid)
		return 0;	/* a new thread, not a new process */
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	bool miss = false;
	__u64 now = bpf_ktime_get_ns();
	struct pal_fork f = {};

	f.parent_ktime = group_ktime(parent, ptgid, &miss);
	f.ppid = ptgid;
	struct pal_proc p = { .exec_ktime = now, .parent_ktime = f.parent_ktime, .ppid = ptgid };
	if (bpf_map_update_elem(&procs, &tgid, &p, BPF_ANY))
		stat_inc(PAL_STAT_PROC_MAP_FULL);
	fill_hdr(&f.hdr, PAL_EV_FORK, sizeof(f), now);
	/* the record describes the child */
	f.hdr.pid = tgid;
	f.hdr.tid = pid;
	f.hdr.cgroup_id = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
	emit(&f, sizeof(f));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pal_exit, struct task_struct *task)
{
	/* one record per thread group, when its last thread goes */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	bool miss = false;
	struct pal_exit x = {};

	x.exec_ktime = group_ktime(task, tgid, &miss);
	x.exit_code = BPF_CORE_READ(task, exit_code);
	x.ppid = BPF_CORE_READ(task, real_parent, tgid);
	fill_hdr(&x.hdr, PAL_EV_EXIT, sizeof(x), bpf_ktime_get_ns());
	x.hdr.pid = tgid;
	bpf_map_delete_elem(&procs, &tgid);
	emit(&x, sizeof(x));
	return 0;
}
