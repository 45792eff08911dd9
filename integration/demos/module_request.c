/* Demo: make the kernel request a module: a socket of a family nothing registered (12, the
 * removed DECnet) has __sock_create() call request_module("net-pf-12"). Fails with
 * EAFNOSUPPORT, as expected. */
#include <stdio.h>
#include <sys/socket.h>

int main(void)
{
	int fd = socket(12, SOCK_STREAM, 0);

	if (fd < 0)
		perror("socket(12)");
	return 0;
}
