/* Demo: create a BPF map and load a 2-instruction socket filter ("r0 = 0; exit") named
 * pal_demo, then try a program the verifier rejects (r0 unset). Exit 0 when the first load
 * worked and the second failed. */
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

int main(void)
{
	struct bpf_insn good[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_insn bad[1] = { { .code = BPF_JMP | BPF_EXIT } };
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 4;
	strcpy(a.map_name, "pal_demo_map");
	long map = bpf(BPF_MAP_CREATE, &a);

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (unsigned long)good;
	a.insn_cnt = 2;
	a.license = (unsigned long)"GPL";
	strcpy(a.prog_name, "pal_demo");
	long prog = bpf(BPF_PROG_LOAD, &a);

	a.insns = (unsigned long)bad;
	a.insn_cnt = 1;
	strcpy(a.prog_name, "pal_demo_bad");
	long rejected = bpf(BPF_PROG_LOAD, &a);

	printf("map fd %ld, prog fd %ld, rejected %ld\n", map, prog, rejected);
	return map >= 0 && prog >= 0 && rejected < 0 ? 0 : 1;
}
