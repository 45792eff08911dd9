/* Dynamically linked exec payload, for the ld.so attack (ld.so cannot run a static binary): when
 * it runs it leaves a proof file, which is what makes an exec "succeeded" for the suite. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[256];
	snprintf(path, sizeof(path), "/run/bypass-proof/%s", argc > 1 ? argv[1] : "dyn");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	(void)!write(fd, "executed\n", 9);
	close(fd);
	return 0;
}
