/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Resolve a struct path to a string by walking dentries and mounts up to the root of the
 * current task's *mount namespace*, not to current->fs->root: a chroot (or a pivot inside the
 * namespace) must not shift the path a policy sees.  Works in tracepoints and LSM hooks alike.
 *
 * The walk runs under bpf_loop() so the verifier checks one step once instead of unrolling
 * every depth (an unrolled 48-level walk exceeds the 1M-instruction budget).
 *
 * Usage:
 *	struct pal_walked w;
 *	struct pal_path_scratch *s = pal_walk_path(dentry, vfsmnt, &w);
 *	if (!s) ...;             // no scratch (cannot happen with a loaded map)
 *	path is s->buf[w.off .. w.off + w.len), no NUL; w.truncated means fail closed.
 */
#ifndef PALISADE_PATH_H
#define PALISADE_PATH_H

#include "palisade.h"

struct pal_path_scratch {
	char buf[2 * PAL_PATH_MAX];
};

/* One per CPU; BPF programs do not migrate while running, so a walk owns it until it returns. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pal_path_scratch);
} pal_path_scratch_map SEC(".maps");

/* Result of pal_walk_path: path is buf[off .. off+len), no NUL. */
struct pal_walked {
	__u32 off;
	__u32 len;
	bool truncated;		/* too deep or too long: callers must fail closed */
};

struct pal_walk_ctx {
	struct dentry *dentry;
	struct mount *mnt;
	struct mount *ns_root;
	__u32 off;		/* next byte to write is off-1 */
	bool done;
	bool truncated;
};

static long pal_walk_step(__u64 index, void *arg)
{
	struct pal_walk_ctx *c = arg;
	__u32 zero = 0;
	struct pal_path_scratch *s = bpf_map_lookup_elem(&pal_path_scratch_map, &zero);

	if (!s)
		return 1;
	struct dentry *dentry = c->dentry;
	struct mount *mnt = c->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

	if (dentry == mnt_root) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (mnt == c->ns_root || mnt_parent == mnt) {
			/* namespace root, or a detached/internal mount */
			c->done = true;
			return 1;
		}
		/* cross to the mount we are mounted on */
		c->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = mnt_parent;
		return 0;
	}
	/* A pseudo dentry (memfd, pipe, anonymous inode) is its own parent: its name is the
	 * whole story, e.g. "memfd:x", reported as "/memfd:x" like the kernel's d_path does. */
	long last = 0;

	if (dentry == parent) {
		c->done = true;
		last = 1;
	}
	__u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	__u32 off = c->off;

	if (len >= PAL_NAME_MAX || len + 1 > off) {
		c->truncated = true;
		return 1;
	}
	off -= len;
	bpf_probe_read_kernel(&s->buf[off & (PAL_PATH_MAX - 1)], len & (PAL_NAME_MAX - 1), name);
	off -= 1;
	s->buf[off & (PAL_PATH_MAX - 1)] = '/';
	c->off = off;
	c->dentry = parent;
	/* bpf_loop callbacks must provably return 0 or 1: hide the bool from clang, which would
	 * otherwise return the loaded byte as is (verifier: "R0 has smax=255") */
	long stop = c->done;
	barrier_var(stop);
	return stop ? 1 : 0;
}

static __always_inline struct pal_path_scratch *pal_walk_path(struct dentry *dentry, struct vfsmount *vfsmnt,
							      struct pal_walked *out)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pal_walk_ctx c = {
		.dentry = dentry,
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.ns_root = BPF_CORE_READ(task, nsproxy, mnt_ns, root),
		.off = PAL_PATH_MAX - 1,
	};
	__u32 zero = 0;
	struct pal_path_scratch *s;

	bpf_loop(PAL_PATH_DEPTH, pal_walk_step, &c, 0);
	s = bpf_map_lookup_elem(&pal_path_scratch_map, &zero);
	if (!s)
		return NULL;
	out->truncated = c.truncated || !c.done;
	__u32 off = c.off;
	if (off == PAL_PATH_MAX - 1) {	/* the root itself */
		off -= 1;
		s->buf[off & (PAL_PATH_MAX - 1)] = '/';
	}
	out->off = off & (PAL_PATH_MAX - 1);
	out->len = (PAL_PATH_MAX - 1) - out->off;
	return s;
}

#endif
