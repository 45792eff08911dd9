/* bypass: the attack program of palisade's bypass suite (driven by ../run-suite.sh).
 *
 *   bypass list                      id, name and pre-open path ("-" if none) of every attack
 *   bypass setup                     reset the fixture (root, outside the cgroup under test)
 *   bypass state                     fingerprint of everything the attacks may damage
 *   bypass attack ID                 run one attack; prints "RESULT OK|DENIED|ERROR ..."
 *   bypass enter CGROUP_DIR -- CMD   move into a cgroup2 directory, then exec CMD
 *   bypass preopen PATH -- CMD       open PATH O_WRONLY as fd 3, then exec CMD (which inherits it)
 *   bypass payload TAG               exec payload: leaves /run/bypass-proof/TAG
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bypass.h"

const char *errname(int err)
{
	const char *n = err ? strerrorname_np(err) : NULL;
	return n ? n : "-";
}

static int result(const char *kind, int code, int err, const char *fmt, va_list ap)
{
	printf("RESULT %s", kind);
	if (err >= 0)
		printf(" %s", errname(err));
	printf(" ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return code;
}

int attack_ok(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = result("OK", 0, -1, fmt, ap);
	va_end(ap);
	return rc;
}

int attack_denied(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = result("DENIED", 1, err, fmt, ap);
	va_end(ap);
	return rc;
}

int attack_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = result("ERROR", 2, -1, fmt, ap);
	va_end(ap);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: bypass list|setup|state|attack ID|enter DIR -- CMD...|"
			"preopen PATH -- CMD...|payload TAG\n");
	return 2;
}

/* argv[i] must be "--" followed by a command. */
static char **command_after(int argc, char **argv, int i)
{
	return (i + 1 < argc && strcmp(argv[i], "--") == 0) ? &argv[i + 1] : NULL;
}

static int enter(const char *dir, char **cmd)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0\n", 2) != 2) {
		fprintf(stderr, "bypass enter: %s: %s\n", path, strerror(errno));
		return 2;
	}
	close(fd);
	execvp(cmd[0], cmd);
	fprintf(stderr, "bypass enter: exec %s: %s\n", cmd[0], strerror(errno));
	return 2;
}

static int preopen(const char *path, char **cmd)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || (fd != PREOPEN_FD && dup2(fd, PREOPEN_FD) < 0)) {
		fprintf(stderr, "bypass preopen: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (fd != PREOPEN_FD)
		close(fd);
	execvp(cmd[0], cmd);
	fprintf(stderr, "bypass preopen: exec %s: %s\n", cmd[0], strerror(errno));
	return 2;
}

static int payload(const char *tag)
{
	char p[256];
	snprintf(p, sizeof(p), PROOF_DIR "/%s", tag);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return 1;
	(void)!write(fd, "executed\n", 9);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	if (!strcmp(cmd, "list") && argc == 2) {
		for (size_t i = 0; i < n_attacks; i++)
			printf("%s %s %s\n", attacks[i].id, attacks[i].name,
			       attacks[i].preopen ? attacks[i].preopen : "-");
		return 0;
	}
	if (!strcmp(cmd, "setup") && argc == 2)
		return fixture_setup();
	if (!strcmp(cmd, "state") && argc == 2)
		return fixture_state();
	if (!strcmp(cmd, "payload") && argc == 3)
		return payload(argv[2]);
	if (!strcmp(cmd, "attack") && argc == 3) {
		for (size_t i = 0; i < n_attacks; i++)
			if (!strcmp(attacks[i].id, argv[2]))
				return attack_run(&attacks[i]);
		fprintf(stderr, "bypass: no attack %s\n", argv[2]);
		return 2;
	}
	if (!strcmp(cmd, "enter") && argc >= 5 && command_after(argc, argv, 3))
		return enter(argv[2], command_after(argc, argv, 3));
	if (!strcmp(cmd, "preopen") && argc >= 5 && command_after(argc, argv, 3))
		return preopen(argv[2], command_after(argc, argv, 3));
	return usage();
}
