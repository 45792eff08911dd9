/* Micro-benchmark for the detection tracepoints' cost: ns per operation of
 *   getppid   an unrelated syscall (pays only the raw sys_enter/sys_exit dispatch)
 *   setuid0   setuid(0) by root: a watched syscall filtered out in the kernel (already root)
 *   mmapx     mmap(PROT_EXEC) of a file + munmap: the loader path (deduplicated after the first)
 *   connect   TCP connect to a closed loopback port: one tcp_connect event per call
 * Usage: syscall_bench MODE ITERATIONS */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: %s getppid|setuid0|mmapx|connect N\n", argv[0]), 2;
	const char *mode = argv[1];
	long n = atol(argv[2]);
	int fd = open("/proc/self/exe", O_RDONLY);
	struct sockaddr_in closed = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t len = sizeof(closed);

	/* a port that was just free: bind, read it back, close */
	bind(l, (struct sockaddr *)&closed, sizeof(closed));
	getsockname(l, (struct sockaddr *)&closed, &len);
	close(l);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		if (!strcmp(mode, "getppid")) {
			syscall(SYS_getppid);
		} else if (!strcmp(mode, "setuid0")) {
			syscall(SYS_setuid, 0);
		} else if (!strcmp(mode, "mmapx")) {
			void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
			munmap(p, 4096);
		} else {
			int s = socket(AF_INET, SOCK_STREAM, 0);
			connect(s, (struct sockaddr *)&closed, sizeof(closed));
			close(s);
		}
	}
	printf("%.1f\n", (now() - t0) / n);
	return 0;
}
