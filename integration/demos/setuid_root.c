/* Demo: ask for root with setuid(0). Installed setuid-root and run by an unprivileged user it
 * succeeds (privilege raise); without the setuid bit it fails with EPERM. Exit 0 = became root. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	int rc = setuid(0);

	printf("setuid(0) = %d, uid=%d euid=%d\n", rc, getuid(), geteuid());
	return rc == 0 ? 0 : 1;
}
