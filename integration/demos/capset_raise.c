/* Demo: drop the effective capability set, then raise it back from the permitted set with
 * capset(2) -- the "raise" a detection must report. Raw syscalls: no libcap needed. */
#include <linux/capability.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return perror("capget"), 2;
	__u32 eff0 = d[0].effective, eff1 = d[1].effective;
	d[0].effective = d[1].effective = 0;
	if (syscall(SYS_capset, &h, d))
		return perror("capset drop"), 2;
	d[0].effective = eff0;
	d[1].effective = eff1;
	if (syscall(SYS_capset, &h, d))
		return perror("capset raise"), 1;
	printf("raised effective to %08x%08x\n", eff1, eff0);
	return 0;
}
