// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Fail-closed guard for the time the NRI plugin (the agent) is down.
 *
 * palisade registers every container and pod sandbox it is told about (NRI StartContainer,
 * RunPodSandbox, Synchronize) in pal_guard_known.  While the guard is *active* (the agent's
 * process exited, or its NRI connection is lost and not yet re-synchronized), an exec by a task
 * whose cgroup lies below one of pal_guard_roots (the runtime's container trees) and that is
 * neither a known cgroup nor below one is refused (mode deny) or reported (mode audit): a new
 * container started while palisade cannot see it does not run unprotected.
 *
 * Everything the decision needs is in the kernel and pinned: the maps and links outlive the
 * agent, and pal_guard_exit turns the guard on by itself when the agent's thread group exits
 * (SIGKILL included), with nobody in userspace.
 *
 * Exec hook, one of three (the loader picks, like enforce.bpf.c's ladder):
 *   lsm/bprm_check_security          inline -EPERM
 *   fmod_ret/security_bprm_check     inline -EPERM
 *   tp_btf/sched_process_exec        SIGKILL after the exec: the new image is killed before its
 *                                    first instruction, but the exec itself happened, so the
 *                                    record says prevented=0
 * Records use enforce.h's struct pal_decision layout in their own ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "palisade.h"
#include "path.h"
#include "enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EPERM 1
#define SIGKILL 9
#define GUARD_LEVELS 16		/* cgroup depth searched for a root or a known ancestor */

/* pal_guard_state.mode */
#define GUARD_OFF 0
#define GUARD_AUDIT 1
#define GUARD_DENY 2

struct pal_guard_state {
	__u32 mode;		/* GUARD_* */
	__u32 active;		/* 1: the plugin is down, unknown container cgroups are guarded */
	__u32 agent_tgid;	/* its exit arms the guard; 0 = no agent */
	__u32 mechanism;	/* enum pal_mechanism of the attached exec hook (for status) */
	__u64 armed_ktime;	/* when pal_guard_exit last armed the guard */
	__u64 agent_exits;	/* how many times it did */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pal_guard_state);
} pal_guard_state SEC(".maps");

/* cgroup id of a container tree -> its path (for status and for a new agent) */
struct pal_guard_root {
	char path[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, struct pal_guard_root);
} pal_guard_roots SEC(".maps");

/* cgroup id registered by palisade -> 1 container, 2 pod sandbox.  A plain hash, not an LRU: an
 * evicted entry would lock a running container out while the agent is down. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} pal_guard_known SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} pal_guard_events SEC(".maps");

/* per-CPU counters: 0 records, 1 ring-buffer drops, 2 denied, 3 audited, 4 killed */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} pal_guard_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pal_decision);
} pal_guard_heap SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&pal_guard_stats, &idx);

	if (v)
		*v += 1;
}

/* 1 when the current task's cgroup is an unknown one below a guard root. */
static __always_inline int unknown_container(__u64 cg)
{
	int under_root = 0;

	if (bpf_map_lookup_elem(&pal_guard_known, &cg))
		return 0;
	for (int i = 1; i < GUARD_LEVELS; i++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(i);

		if (!id || id == cg)
			break;	/* past the task's own level */
		/* a sub-cgroup of a registered container is the container's */
		if (bpf_map_lookup_elem(&pal_guard_known, &id))
			return 0;
		if (bpf_map_lookup_elem(&pal_guard_roots, &id))
			under_root = 1;
	}
	return under_root;
}

/* Returns the verdict: -EPERM to refuse, 0 to let the exec go on. */
static __always_inline int guard(struct file *file, __u8 hook, __u8 mech)
{
	__u32 zero = 0;
	struct pal_guard_state *st = bpf_map_lookup_elem(&pal_guard_state, &zero);
	__u64 cg;

	if (!st || st->mode == GUARD_OFF || !st->active)
		return 0;
	cg = bpf_get_current_cgroup_id();
	if (!unknown_container(cg))
		return 0;

	int deny = st->mode == GUARD_DENY;
	struct pal_decision *r = bpf_map_lookup_elem(&pal_guard_heap, &zero);

	if (deny && mech == PAL_MECH_TRACEPOINT) {
		bpf_send_signal(SIGKILL);
		stat_inc(4);
	}
	stat_inc(deny ? 2 : 3);
	if (!r)
		return deny ? -EPERM : 0;

	__u64 pid_tgid = bpf_get_current_pid_tgid();

	r->hdr.kind = PAL_EV_ENFORCE;
	r->hdr.size = sizeof(*r);
	r->hdr.ktime = bpf_ktime_get_ns();
	r->hdr.pid = pid_tgid >> 32;
	r->hdr.tid = (__u32)pid_tgid;
	r->hdr.cgroup_id = cg;
	r->set_id = 0;
	r->rule = PAL_RULE_NONE;
	r->action = deny ? PAL_ACT_DENY : PAL_ACT_AUDIT;
	r->op = PAL_OP_EXEC;
	r->hook = hook;
	r->mechanism = mech;
	r->prevented = deny && mech != PAL_MECH_TRACEPOINT;
	r->family = 0;
	r->err = r->prevented ? -EPERM : 0;
	r->flags = (deny && mech == PAL_MECH_TRACEPOINT) ? PAL_DF_KILLED : 0;
	r->path_len = 0;
	r->path2_len = 0;
	r->path[0] = 0;
	r->path2[0] = 0;
	bpf_get_current_comm(r->comm, sizeof(r->comm));

	struct pal_walked w = {};
	struct pal_path_scratch *s = pal_walk_path(BPF_CORE_READ(file, f_path.dentry),
						   BPF_CORE_READ(file, f_path.mnt), &w);
	if (s) {
		__u32 n = w.len;

		if (n > PAL_ENF_REC_PATH - 1) {
			n = PAL_ENF_REC_PATH - 1;
			r->flags |= PAL_DF_REC_PATH_CUT;
		}
		if (w.truncated)
			r->flags |= PAL_DF_TRUNC_PATH;
		bpf_probe_read_kernel(r->path, n & (PAL_ENF_REC_PATH - 1),
				      &s->buf[w.off & (PAL_PATH_MAX - 1)]);
		r->path[n & (PAL_ENF_REC_PATH - 1)] = 0;
		r->path_len = n & (PAL_ENF_REC_PATH - 1);
	}
	if (r->path_len <= 1) {
		/* a file on an internal mount (runc's memfd copy of itself resolves to "/"): its name
		 * (memfd:runc_cloned:/proc/self/exe) says more */
		long m = bpf_probe_read_kernel_str(r->path, PAL_ENF_REC_PATH,
						   BPF_CORE_READ(file, f_path.dentry, d_name.name));
		if (m > 1)
			r->path_len = (m - 1) & (PAL_ENF_REC_PATH - 1);
	}
	if (bpf_ringbuf_output(&pal_guard_events, r, sizeof(*r), 0))
		stat_inc(1);
	else
		stat_inc(0);
	return deny ? -EPERM : 0;
}

/* An earlier denial (another program on the hook) stays a denial; see enforce.bpf.c. */
static __always_inline int lsm_ret(int v)
{
	barrier_var(v);
	return v >> 31;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(pal_guard_lsm_exec, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return lsm_ret(-EPERM);
	return lsm_ret(guard(BPF_CORE_READ(bprm, file), PAL_HOOK_BPRM_CHECK, PAL_MECH_LSM));
}

SEC("fmod_ret/security_bprm_check")
int BPF_PROG(pal_guard_fmod_exec, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return -EPERM;
	return guard(BPF_CORE_READ(bprm, file), PAL_HOOK_BPRM_CHECK, PAL_MECH_FMOD_RET);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pal_guard_tp_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	/* hook 0: userspace names it sched_process_exec */
	guard(BPF_CORE_READ(bprm, file), 0, PAL_MECH_TRACEPOINT);
	return 0;
}

/* The agent's whole thread group exited (crash, SIGKILL, stop): arm the guard. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(pal_guard_exit, struct task_struct *task)
{
	__u32 zero = 0;
	struct pal_guard_state *st = bpf_map_lookup_elem(&pal_guard_state, &zero);

	if (!st || !st->agent_tgid || BPF_CORE_READ(task, tgid) != st->agent_tgid)
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;	/* a thread, not the last one */
	st->active = 1;
	st->agent_tgid = 0;
	st->armed_ktime = bpf_ktime_get_ns();
	st->agent_exits += 1;
	return 0;
}
