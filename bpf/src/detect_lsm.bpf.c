// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * The hook-based detections from BPF LSM hooks, for kernels where `bpf` is an active LSM (the
 * kernel lab's Debian kernels; the dev hosts refuse these programs). Same records as
 * detect.bpf.c, so the renderer and the Tetragon-shaped output are shared; `hook` says which
 * LSM hook fired. The loader enables a program only when the running kernel has its hook and
 * then tells detect.bpf.c (rodata `lsm_ops`) to skip the same operation, so each operation is
 * reported once.
 *
 * What changes against the syscall tracepoints: an LSM hook runs after the kernel's own
 * permission checks and before the change is made, so it reports what is about to happen
 * (`ret` is the LSM verdict, 0 unless another BPF LSM program refused it); a request the kernel
 * refuses earlier (setuid(0) by nobody without the setuid bit) never reaches it. Observe only:
 * every program returns the verdict it was handed.
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

/* include/linux/security.h */
#define LSM_SETID_ID 1
#define LSM_SETID_RE 2
#define LSM_SETID_RES 4
#define LSM_SETID_FS 8

#define TCP_SYN_SENT_S 2

/* The syscall being served: number and first arguments from the task's user registers (LSM
 * hooks do not get them, but the records name the syscall like the tracepoint variant does). */
static __always_inline void syscall_of(__u64 *nr, __u64 *args)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	*nr = BPF_CORE_READ(regs, orig_ax);
	args[0] = BPF_CORE_READ(regs, di);
	args[1] = BPF_CORE_READ(regs, si);
	args[2] = BPF_CORE_READ(regs, dx);
}

/* Some id of the family becomes root that was not root before. */
static __always_inline bool gains_root(__u32 n0, __u32 n1, __u32 n2, __u32 n3, __u32 o0, __u32 o1,
				       __u32 o2, __u32 o3)
{
	return (n0 == 0 && o0 != 0) || (n1 == 0 && o1 != 0) || (n2 == 0 && o2 != 0) ||
	       (n3 == 0 && o3 != 0);
}

static __always_inline int setid(struct cred *new, const struct cred *old, __u32 hook, int ret)
{
	bool root = hook == PAL_DHOOK_LSM_TASK_FIX_SETUID ?
		gains_root(new->uid.val, new->euid.val, new->suid.val, new->fsuid.val,
			   old->uid.val, old->euid.val, old->suid.val, old->fsuid.val) :
		gains_root(new->gid.val, new->egid.val, new->sgid.val, new->fsgid.val,
			   old->gid.val, old->egid.val, old->sgid.val, old->fsgid.val);
	if (!root)
		return ret;
	struct detect_buf *b = new_record(PAL_DOP_SETID, hook);
	if (!b)
		return ret;
	struct pal_detect *e = &b->ev;
	__u64 nr, a[3];

	syscall_of(&nr, a);
	e->arg[0] = nr;
	e->arg[1] = (__u32)a[0];
	e->arg[2] = (__u32)a[1];
	e->arg[3] = (__u32)a[2];
	cred_to(&e->creds, new);	/* what the task is about to hold */
	cred_to(&e->old, old);
	e->ret = ret;
	emit(b);
	return ret;
}

SEC("lsm/task_fix_setuid")
int BPF_PROG(pal_dlsm_task_fix_setuid, struct cred *new, const struct cred *old, int flags, int ret)
{
	return setid(new, old, PAL_DHOOK_LSM_TASK_FIX_SETUID, ret);
}

SEC("lsm/task_fix_setgid")
int BPF_PROG(pal_dlsm_task_fix_setgid, struct cred *new, const struct cred *old, int flags, int ret)
{
	return setid(new, old, PAL_DHOOK_LSM_TASK_FIX_SETGID, ret);
}

SEC("lsm/capset")
int BPF_PROG(pal_dlsm_capset, struct cred *new, const struct cred *old, const kernel_cap_t *effective,
	     const kernel_cap_t *inheritable, const kernel_cap_t *permitted, int ret)
{
	__u64 eff = cap_u64(*effective), inh = cap_u64(*inheritable), per = cap_u64(*permitted);
	__u64 o_eff = cap_u64(old->cap_effective), o_inh = cap_u64(old->cap_inheritable);
	__u64 o_per = cap_u64(old->cap_permitted);

	if (!(eff & ~o_eff) && !(per & ~o_per) && !(inh & ~o_inh))
		return ret;	/* dropping or keeping, not raising */
	struct detect_buf *b = new_record(PAL_DOP_CAPSET, PAL_DHOOK_LSM_CAPSET);
	if (!b)
		return ret;
	struct pal_detect *e = &b->ev;

	e->arg[0] = eff;
	e->arg[1] = per;
	e->arg[2] = inh;
	cred_to(&e->old, old);
	e->ret = ret;
	emit(b);
	return ret;
}

SEC("lsm/userns_create")
int BPF_PROG(pal_dlsm_userns_create, const struct cred *cred, int ret)
{
	/* privileged callers (CAP_SYS_ADMIN in effect) are not the threat model */
	if (cap_u64(cred->cap_effective) & (1ULL << CAP_SYS_ADMIN_BIT))
		return ret;
	struct detect_buf *b = new_record(PAL_DOP_USERNS, PAL_DHOOK_LSM_USERNS_CREATE);
	if (!b)
		return ret;
	struct pal_detect *e = &b->ev;
	__u64 nr, a[3], flags;

	syscall_of(&nr, a);
	flags = a[0];
	if (nr == NR_CLONE3 && bpf_probe_read_user(&flags, sizeof(flags), (void *)a[0]))
		flags = CLONE_NEWUSER_FLAG;
	e->arg[0] = nr;
	e->arg[1] = flags;
	cred_to(&e->old, cred);
	e->ret = ret;
	emit(b);
	return ret;
}

/* The command's attributes, read from the kernel's copy of union bpf_attr. */
SEC("lsm/bpf")
int BPF_PROG(pal_dlsm_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	struct detect_buf *b;
	struct pal_detect *e;

	if (cmd == BPF_PROG_LOAD_CMD) {
		b = new_record(PAL_DOP_BPF_PROG, PAL_DHOOK_LSM_BPF);
		if (!b)
			return ret;
		e = &b->ev;
		e->arg[0] = BPF_CORE_READ(attr, prog_type);
		e->arg[1] = BPF_CORE_READ(attr, insn_cnt);
		bpf_probe_read_kernel(b->data, 16, attr->prog_name);
	} else if (cmd == BPF_MAP_CREATE_CMD) {
		b = new_record(PAL_DOP_BPF_MAP, PAL_DHOOK_LSM_BPF);
		if (!b)
			return ret;
		e = &b->ev;
		e->arg[0] = BPF_CORE_READ(attr, map_type);
		e->arg[1] = BPF_CORE_READ(attr, key_size);
		e->arg[2] = BPF_CORE_READ(attr, value_size);
		e->arg[3] = BPF_CORE_READ(attr, max_entries);
		bpf_probe_read_kernel(b->data, 16, attr->map_name);
	} else {
		return ret;
	}
	e->data_len = 16;
	e->ret = ret;
	emit(b);
	return ret;
}

SEC("lsm/kernel_module_request")
int BPF_PROG(pal_dlsm_kernel_module_request, char *kmod_name, int ret)
{
	struct detect_buf *b = new_record(PAL_DOP_MODULE_REQUEST, PAL_DHOOK_LSM_KERNEL_MODULE_REQUEST);
	if (!b)
		return ret;
	long n = bpf_probe_read_kernel_str(b->data, PAL_NAME_MAX, kmod_name);

	b->ev.data_len = n > 0 ? n - 1 : 0;
	b->ev.arg[0] = 1;	/* request_module() waits; the hook does not say, the common case */
	b->ev.ret = ret;
	emit(b);
	return ret;
}

/* finit_module: the module file about to be read */
SEC("lsm/kernel_read_file")
int BPF_PROG(pal_dlsm_kernel_read_file, struct file *file, enum kernel_read_file_id id, bool contents,
	     int ret)
{
	if (id != bpf_core_enum_value(enum kernel_read_file_id, READING_MODULE))
		return ret;
	struct detect_buf *b = new_record(PAL_DOP_MODULE_SYSCALL, PAL_DHOOK_LSM_KERNEL_READ_FILE);
	if (!b)
		return ret;
	__u64 nr, a[3];

	syscall_of(&nr, a);
	b->ev.arg[0] = NR_FINIT_MODULE;
	b->ev.arg[1] = nr == NR_FINIT_MODULE ? a[2] : 0;	/* flags */
	put_path(b, file->f_path.dentry, file->f_path.mnt);
	b->ev.ret = ret;
	emit(b);
	return ret;
}

/* init_module: a module image from memory */
SEC("lsm/kernel_load_data")
int BPF_PROG(pal_dlsm_kernel_load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	if (id != bpf_core_enum_value(enum kernel_load_data_id, LOADING_MODULE))
		return ret;
	struct detect_buf *b = new_record(PAL_DOP_MODULE_SYSCALL, PAL_DHOOK_LSM_KERNEL_LOAD_DATA);
	if (!b)
		return ret;
	__u64 nr, a[3];

	syscall_of(&nr, a);
	b->ev.arg[0] = NR_INIT_MODULE;
	b->ev.arg[2] = nr == NR_INIT_MODULE ? a[1] : 0;	/* image length */
	b->ev.ret = ret;
	emit(b);
	return ret;
}

/* Executable file mappings, the program's own and its interpreter's at exec included (the
 * syscall variant only sees the mmap calls the dynamic loader makes). */
SEC("lsm/mmap_file")
int BPF_PROG(pal_dlsm_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags, int ret)
{
	if (!loader_enabled || !file || !(prot & PROT_EXEC_FLAG))
		return ret;
	struct inode *inode = file->f_inode;
	struct task_struct *task = bpf_get_current_task_btf();
	struct loader_key k = {
		.mm = (__u64)task->mm,
		.ino = inode->i_ino,
		.dev = inode->i_sb->s_dev,
		.tgid = bpf_get_current_pid_tgid() >> 32,
	};
	__u8 one = 1;

	if (bpf_map_lookup_elem(&loader_seen, &k))
		return ret;
	bpf_map_update_elem(&loader_seen, &k, &one, BPF_ANY);
	struct detect_buf *b = new_record(PAL_DOP_LOADER, PAL_DHOOK_LSM_MMAP_FILE);
	if (!b)
		return ret;
	b->ev.arg[0] = k.ino;
	b->ev.arg[1] = k.dev;
	b->ev.arg[2] = prot;
	b->ev.arg[3] = flags;
	put_path(b, file->f_path.dentry, file->f_path.mnt);
	emit(b);
	return ret;
}

/* TCP connect as asked: destination from the caller's address, source as bound so far. */
SEC("lsm/socket_connect")
int BPF_PROG(pal_dlsm_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen,
	     int ret)
{
	struct sock *sk = sock->sk;

	if (!sk || sk->sk_protocol != IPPROTO_TCP_N)
		return ret;
	__u16 family = sk->__sk_common.skc_family;
	__u16 afam = BPF_CORE_READ(address, sa_family);
	if ((family != AF_INET_N && family != AF_INET6_N) || afam != family)
		return ret;
	struct detect_buf *b = new_record(PAL_DOP_TCP_CONNECT, PAL_DHOOK_LSM_SOCKET_CONNECT);
	if (!b)
		return ret;
	struct pal_detect *e = &b->ev;

	e->arg[0] = family;
	e->arg[1] = sk->__sk_common.skc_num;
	if (family == AF_INET_N) {
		struct sockaddr_in *in = (void *)address;
		__u32 sa = sk->__sk_common.skc_rcv_saddr;
		__u32 da = BPF_CORE_READ(in, sin_addr.s_addr);

		e->arg[2] = bpf_ntohs(BPF_CORE_READ(in, sin_port));
		__builtin_memcpy(e->saddr, &sa, 4);
		__builtin_memcpy(e->daddr, &da, 4);
	} else {
		struct sockaddr_in6 *in6 = (void *)address;
		struct in6_addr sa6 = sk->__sk_common.skc_v6_rcv_saddr;
		struct in6_addr da6 = BPF_CORE_READ(in6, sin6_addr);

		e->arg[2] = bpf_ntohs(BPF_CORE_READ(in6, sin6_port));
		__builtin_memcpy(e->saddr, &sa6, 16);
		__builtin_memcpy(e->daddr, &da6, 16);
	}
	e->arg[3] = TCP_SYN_SENT_S;
	e->ret = ret;
	emit(b);
	return ret;
}
