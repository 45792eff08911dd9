/* Cost of the operations palisade hooks, per call, measured from user space.
 *
 *   opbench open|create DIR ITERATIONS ROUNDS
 *
 * open:   open(DIR/f, O_RDONLY) + close       (file_open, file_permission not involved)
 * create: open(DIR/n, O_CREAT|O_WRONLY) + close + unlink   (path_mknod, file_open, path_unlink)
 * Prints "<op> min_ns median_ns" per call over ROUNDS rounds of ITERATIONS calls: the minimum
 * is the better estimate on a noisy (TCG) machine.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: opbench open|create DIR ITERATIONS ROUNDS\n");
		return 2;
	}
	int create = strcmp(argv[1], "create") == 0;
	long iters = atol(argv[3]), rounds = atol(argv[4]);
	char f[4096], n[4096];
	snprintf(f, sizeof(f), "%s/f", argv[2]);
	snprintf(n, sizeof(n), "%s/n", argv[2]);
	int fd = open(f, O_CREAT | O_WRONLY, 0644);
	if (fd < 0) {
		perror(f);
		return 1;
	}
	close(fd);
	double *per = calloc(rounds, sizeof(double));
	for (long r = 0; r < rounds; r++) {
		double t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			if (create) {
				fd = open(n, O_CREAT | O_WRONLY, 0644);
				if (fd < 0 || close(fd) || unlink(n)) {
					perror(n);
					return 1;
				}
			} else {
				fd = open(f, O_RDONLY);
				if (fd < 0 || close(fd)) {
					perror(f);
					return 1;
				}
			}
		}
		per[r] = (now_ns() - t0) / iters;
	}
	qsort(per, rounds, sizeof(double), cmp);
	printf("%s %.0f %.0f\n", argv[1], per[0], per[rounds / 2]);
	return 0;
}
