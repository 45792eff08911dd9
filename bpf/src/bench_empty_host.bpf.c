// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Benchmark floor for hosts without BPF LSM (integration/bench/run.sh): do-nothing programs on
 * every hook the agent attaches there, so "floor vs no BPF" is the price of any BPF program on
 * those hooks and "agent vs floor" is palisade's own work:
 *   - process sensor: tp_btf sched_process_exec/fork/exit
 *   - detections: tp_btf sys_enter/sys_exit/inet_sock_set_state/module_load/module_request
 *   - enforcement fallback: tp/syscalls/sys_enter_* (file syscalls and execve), tp_btf
 *     cgroup_mkdir, and cgroup connect4/6 + sendmsg4/6 (the loader attaches these to the
 *     cgroup2 root, and so does integration/src/bin/host-floor.rs)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *task)
{
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

SEC("tp_btf/module_load")
int BPF_PROG(floor_module_load, struct module *mod)
{
	return 0;
}

SEC("tp_btf/module_request")
int BPF_PROG(floor_module_request, char *name, bool wait, unsigned long ip)
{
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(floor_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	return 0;
}

#define FLOOR_TP(name)                                                      \
	SEC("tp/syscalls/sys_enter_" #name)                                 \
	int floor_tp_##name(struct trace_event_raw_sys_enter *ctx)          \
	{                                                                   \
		return 0;                                                   \
	}

/* the same list as enforce.bpf.c's TP_PROG()s */
FLOOR_TP(unlinkat)
FLOOR_TP(unlink)
FLOOR_TP(rmdir)
FLOOR_TP(mkdirat)
FLOOR_TP(mkdir)
FLOOR_TP(renameat2)
FLOOR_TP(renameat)
FLOOR_TP(rename)
FLOOR_TP(linkat)
FLOOR_TP(link)
FLOOR_TP(openat)
FLOOR_TP(open)
FLOOR_TP(truncate)
FLOOR_TP(fchmodat)
FLOOR_TP(chmod)
FLOOR_TP(fchownat)
FLOOR_TP(chown)
FLOOR_TP(execve)

/* cgroup sock_addr programs: 1 = allow */
SEC("cgroup/connect4")
int floor_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/connect6")
int floor_connect6(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/sendmsg4")
int floor_sendmsg4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/sendmsg6")
int floor_sendmsg6(struct bpf_sock_addr *ctx)
{
	return 1;
}
