/* The suite's fixture: `setup` puts every target back into a known state (run as root outside any
 * protected cgroup, before each attack), `state` prints a fingerprint of everything an attack may
 * damage. The driver compares the fingerprint before and after an attack: an attack is blocked
 * only if its syscall failed and the fingerprint did not change. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "bypass.h"

static const unsigned char x86_ret42[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3}; /* mov eax,42; ret */

static int fail(const char *what)
{
	fprintf(stderr, "bypass setup: %s: %s\n", what, strerror(errno));
	return 1;
}

static void deep_name(char *buf, int level)
{
	int n = snprintf(buf, DEEP_NAME_LEN + 1, "level%02d-", level);
	memset(buf + n, 'x', DEEP_NAME_LEN - n);
	buf[DEEP_NAME_LEN] = 0;
}

int deep_dir_open(void)
{
	char name[DEEP_NAME_LEN + 1];
	int fd = open(DEEP_TOP, O_PATH | O_DIRECTORY);
	for (int i = 0; fd >= 0 && i < DEEP_LEVELS; i++) {
		deep_name(name, i);
		int next = openat(fd, name, O_PATH | O_DIRECTORY);
		int e = errno;
		close(fd);
		errno = e;
		fd = next;
	}
	return fd;
}

int remove_tree(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && remove_tree(fd, e->d_name))
			rc = -1;
	closedir(d);
	return rc ? rc : unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int write_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, data, len);
	int rc = (w == (ssize_t)len && fchmod(fd, mode) == 0) ? 0 : -1;
	close(fd);
	return rc;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	unlink(dst);
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			rc = -1;
			break;
		}
	if (n < 0 || fchmod(out, mode) < 0)
		rc = -1;
	close(in);
	close(out);
	return rc;
}

int fixture_setup(void)
{
	struct stat st;
	/* Undo attacks that moved /etc or mounted over the scratch dir. */
	if (stat("/etc", &st) < 0 && stat(ETC_MOVED, &st) == 0 && rename(ETC_MOVED, "/etc") < 0)
		return fail("rename " ETC_MOVED " back to /etc");
	while (umount2(BIND_DIR, MNT_DETACH) == 0)
		;

	/* /etc/shadow: keep the guest's original content once, recreate the file from it each time
	 * (new inode: drops hard links, xattrs, mode and owner changes). */
	if ((mkdir("/var/lib", 0755) < 0 && errno != EEXIST) || (mkdir(PRISTINE, 0700) < 0 && errno != EEXIST))
		return fail("mkdir " PRISTINE);
	if (stat(PRISTINE "/shadow", &st) < 0 && copy_file(TARGET, PRISTINE "/shadow", 0600) < 0)
		return fail("save pristine " TARGET);
	if (unlink(TARGET) < 0 && errno != ENOENT)
		return fail("unlink " TARGET);
	if (copy_file(PRISTINE "/shadow", TARGET, 0640) < 0 || chown(TARGET, 0, 42) < 0 ||
	    chmod(TARGET, 0640) < 0)
		return fail("restore " TARGET);

	if (remove_tree(AT_FDCWD, SCRATCH) < 0 || remove_tree(AT_FDCWD, "/etc/bypass-new") < 0 ||
	    remove_tree(AT_FDCWD, "/etc/bypass-newdir") < 0 || remove_tree(AT_FDCWD, SECRET_DIR) < 0 ||
	    remove_tree(AT_FDCWD, PROOF_DIR) < 0)
		return fail("clean old fixture");

	if (mkdir(SCRATCH, 0755) < 0 || mkdir(BIND_DIR, 0755) < 0)
		return fail("mkdir " SCRATCH);
	/* The hard link that exists before the attacker enters the protected cgroup. */
	if (link(TARGET, PRELINK) < 0)
		return fail("link " PRELINK);
	if (write_file(AT_FDCWD, DECOY, "decoy\n", 6, 0640) < 0)
		return fail("write " DECOY);

	if (mkdir(SECRET_DIR, 0700) < 0 || write_file(AT_FDCWD, SECRET_FILE, "top secret\n", 11, 0600) < 0)
		return fail("create " SECRET_DIR);
	if (mkdir(DEEP_TOP, 0700) < 0)
		return fail("mkdir " DEEP_TOP);
	int fd = open(DEEP_TOP, O_PATH | O_DIRECTORY);
	char name[DEEP_NAME_LEN + 1];
	for (int i = 0; fd >= 0 && i < DEEP_LEVELS; i++) {
		deep_name(name, i);
		if (mkdirat(fd, name, 0700) < 0)
			return fail("mkdir deep level");
		int next = openat(fd, name, O_PATH | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	if (fd < 0 || write_file(fd, DEEP_FILE, "deep secret\n", 12, 0600) < 0)
		return fail("create deep target");
	close(fd);

	if (mkdir(PROOF_DIR, 0777) < 0 || chmod(PROOF_DIR, 0777) < 0)
		return fail("mkdir " PROOF_DIR);
	if (copy_file("/proc/self/exe", PAYLOAD_TMP, 0755) < 0 ||
	    copy_file("/proc/self/exe", PAYLOAD_SHM, 0755) < 0)
		return fail("stage static payloads");
	if (stat(PAYLOAD_DYN_SRC, &st) == 0 && copy_file(PAYLOAD_DYN_SRC, PAYLOAD_DYN_TMP, 0755) < 0)
		return fail("stage " PAYLOAD_DYN_TMP);
	if (write_file(AT_FDCWD, CODE_TMP, x86_ret42, sizeof(x86_ret42), 0755) < 0)
		return fail("write " CODE_TMP);
	return 0;
}

/* FNV-1a: change detection only, not a security property. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ULL;
	return h;
}
#define FNV0 0xcbf29ce484222325ULL

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hash of a directory's sorted entry names. */
static uint64_t dir_hash(int fd)
{
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d)
		return 0;
	char *names[4096];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 4096)
		names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	uint64_t h = FNV0;
	for (size_t i = 0; i < n; i++) {
		h = fnv(h, names[i], strlen(names[i]) + 1);
		free(names[i]);
	}
	return h;
}

static uint64_t content_hash(int fd)
{
	uint64_t h = FNV0;
	char buf[65536];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		h = fnv(h, buf, r);
	return h;
}

static uint64_t xattr_hash(int fd)
{
	char list[8192], val[8192];
	ssize_t n = flistxattr(fd, list, sizeof(list));
	uint64_t h = FNV0;
	for (ssize_t off = 0; n > 0 && off < n; off += strlen(list + off) + 1) {
		ssize_t v = fgetxattr(fd, list + off, val, sizeof(val));
		h = fnv(h, list + off, strlen(list + off) + 1);
		if (v > 0)
			h = fnv(h, val, v);
	}
	return h;
}

/* One fingerprint line for dirfd/name (not following a final symlink). */
static void print_node(const char *label, int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		printf("%s missing %s\n", label, errname(errno));
		return;
	}
	printf("%s ino=%lu mode=%o uid=%u gid=%u nlink=%lu size=%ld mtime=%ld.%09ld ctime=%ld.%09ld",
	       label, (unsigned long)st.st_ino, st.st_mode, st.st_uid, st.st_gid,
	       (unsigned long)st.st_nlink, (long)st.st_size, (long)st.st_mtim.tv_sec,
	       st.st_mtim.tv_nsec, (long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			printf(" %s=%016llx xattrs=%016llx", S_ISDIR(st.st_mode) ? "entries" : "content",
			       (unsigned long long)(S_ISDIR(st.st_mode) ? dir_hash(fd) : content_hash(fd)),
			       (unsigned long long)xattr_hash(fd));
			close(fd);
		} else {
			printf(" unreadable=%s", errname(errno));
		}
	}
	printf("\n");
}

int fixture_state(void)
{
	print_node("/etc", AT_FDCWD, "/etc");
	print_node(TARGET, AT_FDCWD, TARGET);
	print_node(SECRET_DIR, AT_FDCWD, SECRET_DIR);
	print_node(SECRET_FILE, AT_FDCWD, SECRET_FILE);
	int deep = deep_dir_open();
	if (deep >= 0) {
		print_node("deep-dir", deep, ".");
		print_node("deep-target", deep, DEEP_FILE);
		close(deep);
	} else {
		/* Two lines either way, so the driver can compare the fingerprints line by line. */
		printf("deep-dir missing %s\ndeep-target missing\n", errname(errno));
	}
	print_node(ETC_MOVED, AT_FDCWD, ETC_MOVED);
	print_node(PROOF_DIR, AT_FDCWD, PROOF_DIR);
	return 0;
}
