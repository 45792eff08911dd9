/* Event flood: N refused TCP connects to 127.0.0.1:1, each one a detection event
 * (tcp_connect) when the agent runs with --detect-host. Prints the count and the rate. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(1) };
	struct timespec t0, t1;
	long refused = 0;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0) { perror("socket"); return 1; }
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			refused++;
		close(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("connects=%ld refused=%ld seconds=%.3f rate=%.0f/s\n", n, refused, secs, n / secs);
	return refused == n ? 0 : 1;
}
