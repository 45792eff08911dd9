/* Demo: ask the kernel to load the module in FILE with finit_module(2) (needs root; on a kernel
 * without module support it fails with ENOSYS, which the detection reports as the result). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return fprintf(stderr, "usage: %s FILE.ko\n", argv[0]), 2;
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return perror("open"), 2;
	long rc = syscall(SYS_finit_module, fd, "", 0);
	if (rc)
		perror("finit_module");
	return rc ? 1 : 0;
}
