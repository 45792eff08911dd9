/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Resolve a struct path to a string by walking dentries and mounts up to the root of the
 * current task's *mount namespace*, not to current->fs->root: a chroot (or a pivot inside the
 * namespace) must not shift the path a policy sees.  Works in tracepoints and LSM hooks alike.
 *
 * The result is written backwards into scratch[0 .. 2*PAL_PATH_MAX) and ends at
 * scratch[PAL_PATH_MAX - 1]; offsets are masked so the verifier can bound every access.
 */
#ifndef PALISADE_PATH_H
#define PALISADE_PATH_H

#include "palisade.h"

struct pal_path_scratch {
	char buf[2 * PAL_PATH_MAX];
};

/* Result of pal_walk_path: path is buf[off .. off+len), no NUL. */
struct pal_walked {
	__u32 off;
	__u32 len;
	bool truncated;		/* too deep or too long: callers must fail closed */
};

static __always_inline int pal_walk_path(struct dentry *dentry, struct vfsmount *vfsmnt,
					 struct pal_path_scratch *s, struct pal_walked *out)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mount *ns_root = BPF_CORE_READ(task, nsproxy, mnt_ns, root);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 off = PAL_PATH_MAX - 1;	/* next byte to write is off-1 */
	bool done = false;

	out->truncated = false;
	for (int i = 0; i < PAL_PATH_DEPTH; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (mnt == ns_root || mnt_parent == mnt || dentry == parent && dentry != mnt_root) {
				done = true;
				break;
			}
			/* cross to the mount we are mounted on */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		__u32 len = BPF_CORE_READ(dentry, d_name.len);
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);

		if (len >= PAL_NAME_MAX || len + 1 > off) {
			out->truncated = true;
			break;
		}
		off -= len;
		bpf_probe_read_kernel(&s->buf[off & (PAL_PATH_MAX - 1)], len & (PAL_NAME_MAX - 1), name);
		off -= 1;
		s->buf[off & (PAL_PATH_MAX - 1)] = '/';
		dentry = parent;
	}
	if (!done)
		out->truncated = true;
	if (off == PAL_PATH_MAX - 1) {	/* the root itself */
		off -= 1;
		s->buf[off & (PAL_PATH_MAX - 1)] = '/';
	}
	out->off = off & (PAL_PATH_MAX - 1);
	out->len = (PAL_PATH_MAX - 1) - out->off;
	return 0;
}

#endif
