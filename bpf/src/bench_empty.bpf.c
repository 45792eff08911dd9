// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Benchmark baseline only (integration/bench/lsm-overhead.sh): LSM programs on the hooks that
 * palisade uses for open/create/unlink, doing nothing.  The difference between "no BPF" and
 * this is the price of any BPF LSM on those hooks; palisade's own cost is measured against it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("lsm/file_open")
int BPF_PROG(empty_file_open, struct file *file, int ret)
{
	return 0;
}

SEC("lsm/path_mknod")
int BPF_PROG(empty_path_mknod, const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev,
	     int ret)
{
	return 0;
}

SEC("lsm/path_unlink")
int BPF_PROG(empty_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	return 0;
}
