/* Demo: create user namespaces through clone(CLONE_NEWUSER) and clone3() with CLONE_NEWUSER
 * (unshare -U covers unshare(2)). Exit 0 when both children ran. */
#define _GNU_SOURCE
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int reap(long pid, const char *how)
{
	if (pid < 0)
		return perror(how), 1;
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	printf("%s: child %ld ran in a new user namespace\n", how, pid);
	return 0;
}

int main(void)
{
	struct clone_args a;
	int bad = reap(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), "clone");

	memset(&a, 0, sizeof(a));
	a.flags = CLONE_NEWUSER;
	a.exit_signal = SIGCHLD;
	bad |= reap(syscall(SYS_clone3, &a, sizeof(a)), "clone3");
	return bad;
}
