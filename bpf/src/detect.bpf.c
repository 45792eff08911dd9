// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Hook-based detections from tracepoints (the dev hosts refuse kprobes, trampolines and BPF LSM
 * programs): privilege changes, capability raises, unprivileged user namespaces, BPF loads,
 * kernel modules, executable mappings of files (shared libraries) and TCP connect/accept/close.
 * Where BPF LSM programs run, detect_lsm.bpf.c reports the operations it has hooks for and
 * `lsm_ops` makes this object skip them.
 *
 * Every record says which hook produced it (`hook`). Syscall detections attach to the raw
 * syscall tracepoints (tp_btf/sys_enter + tp_btf/sys_exit, which need no tracefs): the enter
 * side filters on the syscall number and parks the arguments per thread, the exit side emits
 * one record with the result, so an event reports what was asked *and* whether it happened.
 *
 * Records share the process object's ring buffer (the loader reuses its fd) so that a
 * detection is always read after the exec of the process that caused it.
 *
 * Layouts are mirrored by hand in bpf/src/detect_events.rs (a size test keeps them in sync).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "palisade.h"
#include "path.h"

#ifndef __TARGET_ARCH_x86
#error "syscall numbers below are x86_64's"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "detect.h"

/* Set by the loader before load. */
const volatile bool loader_enabled = false;
/* Ops (1 << enum pal_det_op) that detect_lsm.bpf.c reports from BPF LSM hooks on this kernel:
 * the syscall side skips them, so each operation is reported once, by the better hook. */
const volatile __u32 lsm_ops = 0;

static __always_inline bool lsm_covers(__u32 op)
{
	return lsm_ops & (1u << op);
}


/* Arguments of a watched syscall, parked from enter to exit. */
struct pending {
	__u32 nr;
	__u32 flags;
	__u64 arg[6];
	char name[16];
	struct pal_creds old;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);	/* LRU: a thread that dies mid-syscall leaves no leak */
	__uint(max_entries, 16384);
	__type(key, __u64);			/* pid_tgid */
	__type(value, struct pending);
} pending SEC(".maps");

/* Who opened a TCP socket (connect or accept), so that state changes seen in softirq
 * context are attributed to that process rather than to whatever task was interrupted. */
struct sock_owner {
	__u64 ktime;		/* when the connect started / the accept returned */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 closed;		/* a close event was emitted already */
	__u32 _pad;
	struct pal_creds creds;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);			/* struct sock address */
	__type(value, struct sock_owner);
} sock_owners SEC(".maps");


static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* A uid/gid-setting syscall asks for id 0 (root) in at least one slot: -1 means "unchanged". */
static __always_inline bool asks_root(__u32 nr, __u64 *a)
{
	switch (nr) {
	case NR_SETUID:
	case NR_SETGID:
	case NR_SETFSUID:
	case NR_SETFSGID:
		return (__u32)a[0] == 0;
	case NR_SETREUID:
	case NR_SETREGID:
		return (__u32)a[0] == 0 || (__u32)a[1] == 0;
	default: /* setresuid, setresgid */
		return (__u32)a[0] == 0 || (__u32)a[1] == 0 || (__u32)a[2] == 0;
	}
}

/* Root already in every slot of that id family: the call changes nothing, nothing to report. */
static __always_inline bool already_root(__u32 nr, struct pal_creds *c)
{
	bool gid = nr == NR_SETGID || nr == NR_SETREGID || nr == NR_SETRESGID || nr == NR_SETFSGID;

	if (gid)
		return (c->gid | c->egid | c->sgid | c->fsgid) == 0;
	return (c->uid | c->euid | c->suid | c->fsuid) == 0;
}

static __always_inline void park(__u64 id, struct pending *p)
{
	if (bpf_map_update_elem(&pending, &id, p, BPF_ANY))
		stat_inc(PAL_DSTAT_PENDING_FULL);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(pal_det_enter, struct pt_regs *regs, long id)
{
	/* fast path: every syscall of the system passes here, so nothing (not even a helper call)
	 * happens before the syscall number says it is one we watch */
	__u32 op;

	switch (id) {
	case NR_SETUID: case NR_SETGID: case NR_SETREUID: case NR_SETREGID:
	case NR_SETRESUID: case NR_SETRESGID: case NR_SETFSUID: case NR_SETFSGID:
		op = PAL_DOP_SETID;
		break;
	case NR_CAPSET:
		op = PAL_DOP_CAPSET;
		break;
	case NR_CLONE: case NR_CLONE3: case NR_UNSHARE:
		op = PAL_DOP_USERNS;
		break;
	case NR_BPF:	/* program loads and map creations come from the same LSM hook */
		op = PAL_DOP_BPF_PROG;
		break;
	case NR_INIT_MODULE: case NR_FINIT_MODULE:
		op = PAL_DOP_MODULE_SYSCALL;
		break;
	case NR_MMAP:
		if (!loader_enabled)
			return 0;
		op = PAL_DOP_LOADER;
		break;
	default:
		return 0;
	}
	if (lsm_covers(op))
		return 0;
	struct pending p = {};
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	p.nr = id;
	/* regs is a BTF pointer here: direct loads, no helper calls */
	p.arg[0] = regs->di;
	p.arg[1] = regs->si;
	p.arg[2] = regs->dx;
	p.arg[3] = regs->r10;
	p.arg[4] = regs->r8;
	p.arg[5] = regs->r9;

	switch (id) {
	case NR_MMAP:
		if (!(p.arg[2] & PROT_EXEC_FLAG) || (int)p.arg[4] < 0)
			return 0;
		break;
	case NR_CLONE:
	case NR_UNSHARE:
	case NR_CLONE3: {
		__u64 flags = p.arg[0];

		if (id == NR_CLONE3 && bpf_probe_read_user(&flags, sizeof(flags), (void *)p.arg[0]))
			return 0;
		if (!(flags & CLONE_NEWUSER_FLAG))
			return 0;
		read_creds(&p.old);
		/* privileged callers (CAP_SYS_ADMIN in effect) are not the threat model */
		if (p.old.cap_effective & (1ULL << CAP_SYS_ADMIN_BIT))
			return 0;
		p.arg[1] = flags;
		break;
	}
	case NR_BPF: {
		__u32 cmd = p.arg[0], size = p.arg[2];
		void *attr = (void *)p.arg[1];
		__u32 v[4] = {};

		if (cmd == BPF_PROG_LOAD_CMD) {
			/* uapi union bpf_attr: prog_type@0 insn_cnt@4 ... prog_name[16]@48 */
			if (bpf_probe_read_user(v, 8, attr))
				return 0;
			if (size >= 64)
				bpf_probe_read_user(p.name, sizeof(p.name), attr + 48);
			p.arg[1] = v[0];
			p.arg[2] = v[1];
		} else if (cmd == BPF_MAP_CREATE_CMD) {
			/* map_type@0 key_size@4 value_size@8 max_entries@12 ... map_name[16]@28 */
			if (bpf_probe_read_user(v, 16, attr))
				return 0;
			if (size >= 44)
				bpf_probe_read_user(p.name, sizeof(p.name), attr + 28);
			p.arg[1] = v[0];
			p.arg[2] = v[1];
			p.arg[3] = v[2];
			p.arg[4] = v[3];
		} else {
			return 0;
		}
		break;
	}
	case NR_CAPSET: {
		/* cap_user_data_t: two {effective, permitted, inheritable} u32 triples (v2/v3) */
		__u32 d[6] = {};

		if (bpf_probe_read_user(d, sizeof(d), (void *)p.arg[1]))
			return 0;
		read_creds(&p.old);
		p.arg[2] = (__u64)d[0] | (__u64)d[3] << 32;	/* effective */
		p.arg[3] = (__u64)d[1] | (__u64)d[4] << 32;	/* permitted */
		p.arg[4] = (__u64)d[2] | (__u64)d[5] << 32;	/* inheritable */
		if (!(p.arg[2] & ~p.old.cap_effective) && !(p.arg[3] & ~p.old.cap_permitted) &&
		    !(p.arg[4] & ~p.old.cap_inheritable))
			return 0;	/* dropping or keeping, not raising */
		break;
	}
	case NR_INIT_MODULE:
	case NR_FINIT_MODULE:
		break;
	default: /* set*id */
		if (!asks_root(id, p.arg))
			return 0;
		read_creds(&p.old);
		if (already_root(id, &p.old))
			return 0;
		break;
	}
	park(pid_tgid, &p);
	return 0;
}

/* Family, ports and addresses of a socket (addresses in network order). */
static __always_inline void fill_tcp(struct pal_detect *e, const struct sock *sk, __u16 family)
{
	e->arg[0] = family;
	e->arg[1] = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->arg[2] = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET_N) {
		__u32 sa = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 da = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(e->saddr, &sa, 4);
		__builtin_memcpy(e->daddr, &da, 4);
	} else {
		struct in6_addr sa6 = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		struct in6_addr da6 = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);

		__builtin_memcpy(e->saddr, &sa6, 16);
		__builtin_memcpy(e->daddr, &da6, 16);
	}
}

static __always_inline int emit_accept(long fd)
{
	struct file *f = fd_file(fd);
	struct socket *sock = f ? BPF_CORE_READ(f, private_data) : NULL;
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_N)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET_N && family != AF_INET6_N)
		return 0;
	struct detect_buf *b = new_record(PAL_DOP_TCP_ACCEPT, PAL_DHOOK_SYS_EXIT);
	if (!b)
		return 0;
	struct pal_detect *e = &b->ev;

	e->ret = fd;
	fill_tcp(e, sk, family);
	e->arg[3] = BPF_CORE_READ(sk, __sk_common.skc_state);
	struct sock_owner o = {
		.ktime = e->hdr.ktime, .cgroup_id = e->hdr.cgroup_id, .pid = e->hdr.pid, .tid = e->hdr.tid,
		.creds = e->creds,
	};
	__builtin_memcpy(o.comm, e->comm, sizeof(o.comm));
	__u64 key = (__u64)sk;
	bpf_map_update_elem(&sock_owners, &key, &o, BPF_ANY);
	emit(b);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pal_det_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;	/* direct load: this runs after every syscall */
	struct pending *p;
	__u32 op;

	switch (nr) {
	case NR_ACCEPT:
	case NR_ACCEPT4:
		return ret >= 0 ? emit_accept(ret) : 0;
	case NR_SETUID: case NR_SETGID: case NR_SETREUID: case NR_SETREGID:
	case NR_SETRESUID: case NR_SETRESGID: case NR_SETFSUID: case NR_SETFSGID:
		op = PAL_DOP_SETID;
		break;
	case NR_CAPSET:
		op = PAL_DOP_CAPSET;
		break;
	case NR_CLONE: case NR_CLONE3: case NR_UNSHARE:
		op = PAL_DOP_USERNS;
		break;
	case NR_BPF:
		op = 0;	/* decided below from the command */
		break;
	case NR_INIT_MODULE: case NR_FINIT_MODULE:
		op = PAL_DOP_MODULE_SYSCALL;
		break;
	case NR_MMAP:
		if (!loader_enabled)
			return 0;
		op = PAL_DOP_LOADER;
		break;
	default:
		return 0;
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	p = bpf_map_lookup_elem(&pending, &pid_tgid);
	if (!p)
		return 0;
	if (p->nr != nr) {
		bpf_map_delete_elem(&pending, &pid_tgid);
		return 0;
	}
	if (op == 0)
		op = p->arg[0] == BPF_PROG_LOAD_CMD ? PAL_DOP_BPF_PROG : PAL_DOP_BPF_MAP;

	struct detect_buf *b = new_record(op, PAL_DHOOK_SYS_EXIT);
	if (!b)
		goto out;
	struct pal_detect *e = &b->ev;
	e->ret = ret;
	e->old = p->old;

	switch (op) {
	case PAL_DOP_SETID:
		e->arg[0] = nr;
		e->arg[1] = (__u32)p->arg[0];
		e->arg[2] = (__u32)p->arg[1];
		e->arg[3] = (__u32)p->arg[2];
		break;
	case PAL_DOP_CAPSET:
		e->arg[0] = p->arg[2];
		e->arg[1] = p->arg[3];
		e->arg[2] = p->arg[4];
		break;
	case PAL_DOP_USERNS:
		e->arg[0] = nr;
		e->arg[1] = p->arg[1];
		break;
	case PAL_DOP_BPF_PROG:
	case PAL_DOP_BPF_MAP:
		e->arg[0] = p->arg[1];
		e->arg[1] = p->arg[2];
		e->arg[2] = p->arg[3];
		e->arg[3] = p->arg[4];
		__builtin_memcpy(b->data, p->name, sizeof(p->name));
		e->data_len = sizeof(p->name);
		break;
	case PAL_DOP_MODULE_SYSCALL:
		e->arg[0] = nr;
		if (nr == NR_FINIT_MODULE) {
			struct file *f = fd_file(p->arg[0]);

			e->arg[1] = p->arg[2];
			if (f)
				put_path(b, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
		} else {
			e->arg[2] = p->arg[1];
		}
		break;
	case PAL_DOP_LOADER: {
		if (ret < 0 && ret > -4096)
			goto out;	/* the mapping failed */
		struct file *f = fd_file(p->arg[4]);
		if (!f)
			goto out;
		struct inode *inode = BPF_CORE_READ(f, f_inode);
		struct loader_key k = {
			.mm = (__u64)BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), mm),
			.ino = BPF_CORE_READ(inode, i_ino),
			.dev = BPF_CORE_READ(inode, i_sb, s_dev),
			.tgid = pid_tgid >> 32,
		};
		__u8 one = 1;
		if (bpf_map_lookup_elem(&loader_seen, &k))
			goto out;
		bpf_map_update_elem(&loader_seen, &k, &one, BPF_ANY);
		e->ret = 0;	/* an address: not worth exporting */
		e->arg[0] = k.ino;
		e->arg[1] = k.dev;
		e->arg[2] = p->arg[2];
		e->arg[3] = p->arg[3];
		put_path(b, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
		break;
	}
	}
	emit(b);
out:
	bpf_map_delete_elem(&pending, &pid_tgid);
	return 0;
}

/* TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED_S 1
#define TCP_SYN_SENT_S 2
#define TCP_FIN_WAIT1_S 4
#define TCP_CLOSE_S 7
#define TCP_CLOSE_WAIT_S 8
#define TCP_LAST_ACK_S 9


/* Fills the process fields from the socket's owner (state changes often run in softirq). */
static __always_inline void as_owner(struct pal_detect *e, struct sock_owner *o)
{
	e->hdr.pid = o->pid;
	e->hdr.tid = o->tid;
	e->hdr.cgroup_id = o->cgroup_id;
	e->creds = o->creds;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	e->flags |= PAL_DF_OWNER;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pal_det_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_N)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET_N && family != AF_INET6_N)
		return 0;
	__u64 key = (__u64)sk;
	struct sock_owner *o;

	if (newstate == TCP_SYN_SENT_S) {
		/* connect(): process context, but the source port is not bound yet, so the event
		 * waits for the handshake's outcome (the next state change) */
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		struct sock_owner n = {
			.ktime = bpf_ktime_get_ns(), .cgroup_id = bpf_get_current_cgroup_id(),
			.pid = pid_tgid >> 32, .tid = (__u32)pid_tgid,
		};
		read_creds(&n.creds);
		bpf_get_current_comm(n.comm, sizeof(n.comm));
		bpf_map_update_elem(&sock_owners, &key, &n, BPF_ANY);
		return 0;
	}
	o = bpf_map_lookup_elem(&sock_owners, &key);
	if (!o)
		return 0;	/* not opened while we watched: no owner to attribute it to */

	struct detect_buf *b = NULL;
	if (oldstate == TCP_SYN_SENT_S) {
		if (lsm_covers(PAL_DOP_TCP_CONNECT)) {
			/* reported at socket_connect; the owner stays for the close event */
			if (newstate != TCP_ESTABLISHED_S)
				o->closed = 1;
			goto done;
		}
		b = new_record(PAL_DOP_TCP_CONNECT, PAL_DHOOK_SOCK_STATE);
		if (!b)
			return 0;
		b->ev.hdr.ktime = o->ktime;	/* when the process asked */
		b->ev.ret = newstate == TCP_ESTABLISHED_S ? 0 : -(long)BPF_CORE_READ(sk, sk_err);
		if (newstate != TCP_ESTABLISHED_S)
			o->closed = 1;	/* a failed connect has no separate close */
	} else if (!o->closed && (oldstate == TCP_ESTABLISHED_S || oldstate == TCP_CLOSE_WAIT_S) &&
		   (newstate == TCP_FIN_WAIT1_S || newstate == TCP_LAST_ACK_S || newstate == TCP_CLOSE_S)) {
		b = new_record(PAL_DOP_TCP_CLOSE, PAL_DHOOK_SOCK_STATE);
		if (!b)
			return 0;
		o->closed = 1;
	}
	if (b) {
		as_owner(&b->ev, o);
		fill_tcp(&b->ev, sk, family);
		b->ev.arg[3] = (__u32)oldstate << 8 | (__u32)newstate;
		emit(b);
	}
done:
	if (newstate == TCP_CLOSE_S)
		bpf_map_delete_elem(&sock_owners, &key);
	return 0;
}

/*
 * Module tracepoints exist only with CONFIG_MODULES; the loader disables these two programs
 * when the running kernel's BTF has no such tracepoint (the dev machines), so the object still
 * loads there. Local struct flavor: CO-RE relocates it against the running kernel.
 */
struct module___pal {
	char name[56];
	unsigned int taints;
} __attribute__((preserve_access_index));

SEC("tp_btf/module_load")
int BPF_PROG(pal_det_module_load, struct module___pal *mod)
{
	struct detect_buf *b = new_record(PAL_DOP_MODULE_LOAD, PAL_DHOOK_MODULE_LOAD);
	if (!b)
		return 0;
	bpf_probe_read_kernel_str(b->data, 56, mod->name);
	b->ev.data_len = 56;
	b->ev.arg[0] = BPF_CORE_READ(mod, taints);
	emit(b);
	return 0;
}

SEC("tp_btf/module_request")
int BPF_PROG(pal_det_module_request, char *name, bool wait, unsigned long ip)
{
	if (lsm_covers(PAL_DOP_MODULE_REQUEST))
		return 0;
	struct detect_buf *b = new_record(PAL_DOP_MODULE_REQUEST, PAL_DHOOK_MODULE_REQUEST);
	if (!b)
		return 0;
	long n = bpf_probe_read_kernel_str(b->data, PAL_NAME_MAX, name);
	b->ev.data_len = n > 0 ? n - 1 : 0;
	b->ev.arg[0] = wait;
	emit(b);
	return 0;
}
