/* Demo: create a user namespace through clone(CLONE_NEWUSER) (unshare -U covers unshare(2)). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

	if (pid < 0)
		return perror("clone"), 1;
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	printf("child %ld ran in a new user namespace\n", pid);
	return 0;
}
