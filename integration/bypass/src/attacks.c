/* The attacks. Each runs inside the cgroup under test and reports with attack_ok (the damaging
 * operation went through), attack_denied (it failed with an errno, or the exec'd program failed)
 * or attack_error (the fixture is missing: neither outcome can be claimed). The driver adds the
 * fingerprint check, so "denied" here is necessary but not sufficient for BLOCKED. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "bypass.h"

extern char **environ;

static const char junk[] = "bypass was here\n";

/* open(path, flags) and, when it is writable, write junk; for attacks whose damage is the write. */
static int open_and_write(const char *path, int flags, const char *what)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return attack_denied(errno, "%s: open(%s)", what, path);
	if ((flags & O_ACCMODE) != O_RDONLY && write(fd, junk, sizeof(junk) - 1) < 0) {
		int e = errno;
		close(fd);
		return attack_denied(e, "%s: write(%s) after a successful open", what, path);
	}
	close(fd);
	return attack_ok("%s: open(%s) and write succeeded", what, path);
}

/* After an alias (link) was made, try writing through it; the alias alone is already damage. */
static int alias_then_write(const char *alias, const char *what)
{
	int fd = open(alias, O_WRONLY | O_APPEND | O_CLOEXEC);
	int e = errno;
	if (fd >= 0 && write(fd, junk, sizeof(junk) - 1) > 0) {
		close(fd);
		return attack_ok("%s created %s and wrote through it", what, alias);
	}
	if (fd >= 0)
		e = errno, close(fd);
	return attack_ok("%s created %s (write through it: %s)", what, alias, errname(e));
}

static int a_direct_unlink(void)
{
	if (unlink(TARGET) < 0)
		return attack_denied(errno, "unlink(" TARGET ")");
	return attack_ok("unlink(" TARGET ") succeeded");
}

static int a_prelink_write(void)
{
	struct stat a, b;
	if (stat(PRELINK, &a) < 0 || stat(TARGET, &b) < 0 || a.st_ino != b.st_ino)
		return attack_error("fixture: " PRELINK " is not a hard link of " TARGET);
	return open_and_write(PRELINK, O_WRONLY | O_APPEND, "pre-existing hard link");
}

static int a_newlink_write(void)
{
	if (link(TARGET, SCRATCH "/newlink") < 0)
		return attack_denied(errno, "link(" TARGET ", " SCRATCH "/newlink)");
	return alias_then_write(SCRATCH "/newlink", "link()");
}

static int a_symlink_trunc(void)
{
	if (symlink(TARGET, SCRATCH "/sl") < 0)
		return attack_error("symlink in scratch dir: %s", errname(errno));
	return open_and_write(SCRATCH "/sl", O_WRONLY | O_TRUNC, "symlink -> " TARGET ", O_TRUNC");
}

static int a_symlink_dir_unlink(void)
{
	if (symlink("/etc", SCRATCH "/etc-link") < 0)
		return attack_error("symlink in scratch dir: %s", errname(errno));
	if (unlink(SCRATCH "/etc-link/shadow") < 0)
		return attack_denied(errno, "unlink(" SCRATCH "/etc-link/shadow)");
	return attack_ok("unlink through a symlinked /etc succeeded");
}

static int a_dotdot_unlink(void)
{
	const char *p = SCRATCH "/../../../etc/shadow";
	if (unlink(p) < 0)
		return attack_denied(errno, "unlink(%s)", p);
	return attack_ok("unlink(%s) succeeded", p);
}

static int a_proc_root_unlink(void)
{
	if (unlink("/proc/self/root" TARGET) < 0)
		return attack_denied(errno, "unlink(/proc/self/root" TARGET ")");
	return attack_ok("unlink(/proc/self/root" TARGET ") succeeded");
}

static int a_relative_trunc(void)
{
	if (chdir(SECRET_DIR) < 0)
		return attack_error("chdir(" SECRET_DIR "): %s", errname(errno));
	return open_and_write("secret.txt", O_WRONLY | O_TRUNC, "relative path from cwd " SECRET_DIR);
}

static int a_proc_cwd_unlink(void)
{
	if (chdir(SECRET_DIR) < 0)
		return attack_error("chdir(" SECRET_DIR "): %s", errname(errno));
	if (unlink("/proc/self/cwd/secret.txt") < 0)
		return attack_denied(errno, "unlink(/proc/self/cwd/secret.txt)");
	return attack_ok("unlink(/proc/self/cwd/secret.txt) with cwd " SECRET_DIR " succeeded");
}

static int a_chroot_unlink(void)
{
	if (chroot("/etc") < 0)
		return attack_denied(errno, "chroot(/etc)");
	if (chdir("/") < 0)
		return attack_error("chdir(/) in chroot: %s", errname(errno));
	if (unlink("/shadow") < 0)
		return attack_denied(errno, "unlink(/shadow) after chroot(/etc)");
	return attack_ok("chroot(/etc) + unlink(/shadow) succeeded");
}

static int a_bind_unlink(void)
{
	/* A private mount namespace, as `unshare -m` in a container would give. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return attack_error("unshare(CLONE_NEWNS): %s", errname(errno));
	if (mount("/etc", BIND_DIR, NULL, MS_BIND, NULL) < 0)
		return attack_denied(errno, "mount --bind /etc " BIND_DIR);
	if (unlink(BIND_DIR "/shadow") < 0)
		return attack_denied(errno, "unlink(" BIND_DIR "/shadow) on a bind mount of /etc");
	return attack_ok("bind mount of /etc + unlink(" BIND_DIR "/shadow) succeeded");
}

static int a_rename_out(void)
{
	if (rename(TARGET, SCRATCH "/stolen") < 0)
		return attack_denied(errno, "rename(" TARGET ", " SCRATCH "/stolen)");
	return attack_ok("moved " TARGET " out of /etc");
}

static int a_rename_over(void)
{
	if (rename(DECOY, TARGET) < 0)
		return attack_denied(errno, "rename(" DECOY ", " TARGET ")");
	return attack_ok("replaced " TARGET " by a decoy");
}

static int a_rename_exchange(void)
{
	if (renameat2(AT_FDCWD, DECOY, AT_FDCWD, TARGET, RENAME_EXCHANGE) < 0)
		return attack_denied(errno, "renameat2(" DECOY ", " TARGET ", RENAME_EXCHANGE)");
	return attack_ok("swapped " TARGET " with a decoy (RENAME_EXCHANGE)");
}

static int a_rename_ancestor(void)
{
	const char *moved = SCRATCH "/moved-secret-dir";
	if (rename(SECRET_DIR, moved) < 0)
		return attack_denied(errno, "rename(" SECRET_DIR ", %s)", moved);
	int fd = open(SCRATCH "/moved-secret-dir/secret.txt", O_WRONLY | O_TRUNC | O_CLOEXEC);
	int e = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	return attack_ok("moved " SECRET_DIR " to %s (then O_TRUNC of the moved secret.txt: %s)",
			 moved, fd >= 0 ? "succeeded" : errname(e));
}

static int a_rename_etc(void)
{
	if (rename("/etc", ETC_MOVED) < 0)
		return attack_denied(errno, "rename(/etc, " ETC_MOVED ")");
	int fd = open(ETC_MOVED "/shadow", O_WRONLY | O_TRUNC | O_CLOEXEC);
	int e = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	return attack_ok("moved /etc to " ETC_MOVED " (then O_TRUNC of its shadow: %s)",
			 fd >= 0 ? "succeeded" : errname(e));
}

static int a_create(void)
{
	return open_and_write("/etc/bypass-new", O_WRONLY | O_CREAT | O_EXCL, "create in /etc");
}

static int a_mkdir(void)
{
	if (mkdir("/etc/bypass-newdir", 0755) < 0)
		return attack_denied(errno, "mkdir(/etc/bypass-newdir)");
	return attack_ok("mkdir(/etc/bypass-newdir) succeeded");
}

/* io_uring: one SQE each; res < 0 is the op's -errno. */
static int uring_result(int res, const char *what)
{
	if (res < 0)
		return attack_denied(-res, "io_uring %s", what);
	if (res > 2)
		close(res);
	return attack_ok("io_uring %s succeeded (res %d)", what, res);
}

static int a_uring_unlink(void)
{
	struct io_uring_sqe sqe = {.opcode = IORING_OP_UNLINKAT, .fd = AT_FDCWD};
	sqe.addr = (unsigned long)TARGET;
	return uring_result(uring_run_one(&sqe), "UNLINKAT " TARGET);
}

static int a_uring_rename(void)
{
	struct io_uring_sqe sqe = {.opcode = IORING_OP_RENAMEAT, .fd = AT_FDCWD};
	sqe.addr = (unsigned long)TARGET;
	sqe.len = AT_FDCWD;
	sqe.addr2 = (unsigned long)SCRATCH "/uring-stolen";
	return uring_result(uring_run_one(&sqe), "RENAMEAT " TARGET " -> " SCRATCH "/uring-stolen");
}

static int a_uring_open_trunc(void)
{
	struct io_uring_sqe sqe = {.opcode = IORING_OP_OPENAT, .fd = AT_FDCWD};
	sqe.addr = (unsigned long)TARGET;
	sqe.open_flags = O_WRONLY | O_TRUNC | O_CLOEXEC;
	return uring_result(uring_run_one(&sqe), "OPENAT " TARGET " O_WRONLY|O_TRUNC");
}

static int a_uring_link(void)
{
	struct io_uring_sqe sqe = {.opcode = IORING_OP_LINKAT, .fd = AT_FDCWD};
	sqe.addr = (unsigned long)TARGET;
	sqe.len = AT_FDCWD;
	sqe.addr2 = (unsigned long)SCRATCH "/uring-link";
	int res = uring_run_one(&sqe);
	if (res < 0)
		return attack_denied(-res, "io_uring LINKAT " TARGET " -> " SCRATCH "/uring-link");
	return alias_then_write(SCRATCH "/uring-link", "io_uring LINKAT");
}

/* Exec attacks: the payload leaves PROOF_DIR/<id> when it runs. The child reports an exec
 * failure's errno through a close-on-exec pipe. */
static const char *cur_id;

static int proof_exists(void)
{
	char p[256];
	snprintf(p, sizeof(p), PROOF_DIR "/%s", cur_id);
	return access(p, F_OK) == 0;
}

static int run_exec(void (*exec_fn)(void), const char *what)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return attack_error("pipe: %s", errname(errno));
	pid_t pid = fork();
	if (pid < 0)
		return attack_error("fork: %s", errname(errno));
	if (pid == 0) {
		close(pfd[0]);
		exec_fn();
		int e = errno;
		(void)!write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	close(pfd[1]);
	int e = 0, status = 0;
	ssize_t n = read(pfd[0], &e, sizeof(e));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (n == sizeof(e))
		return attack_denied(e, "%s: exec failed", what);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && proof_exists())
		return attack_ok("%s: payload ran", what);
	if (WIFSIGNALED(status))
		return attack_denied(0, "%s: exec'd program killed by signal %d", what, WTERMSIG(status));
	return attack_denied(0, "%s: exec'd program exited %d without running the payload", what,
			     WEXITSTATUS(status));
}

static void exec_path(const char *path)
{
	char *argv[] = {(char *)path, "payload", (char *)cur_id, NULL};
	execve(path, argv, environ);
}
static void x_tmp(void) { exec_path(PAYLOAD_TMP); }
static void x_shm(void) { exec_path(PAYLOAD_SHM); }

static void x_memfd(void)
{
	int in = open(PAYLOAD_TMP, O_RDONLY | O_CLOEXEC);
	int mfd = (int)syscall(SYS_memfd_create, "bypass", MFD_CLOEXEC);
	if (in < 0 || mfd < 0)
		return;
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(mfd, buf, n) != n)
			return;
	char *argv[] = {"memfd-payload", "payload", (char *)cur_id, NULL};
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
}

static void x_ldso(void)
{
	char *argv[] = {LDSO, PAYLOAD_DYN_TMP, (char *)cur_id, NULL};
	execve(LDSO, argv, environ);
}

static void x_procfd(void)
{
	int fd = open(PAYLOAD_TMP, O_RDONLY);
	if (fd < 0)
		return;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	exec_path(p);
}

static int a_exec_tmp(void) { return run_exec(x_tmp, "execve(" PAYLOAD_TMP ")"); }
static int a_exec_shm(void) { return run_exec(x_shm, "execve(" PAYLOAD_SHM ")"); }
static int a_exec_memfd(void)
{
	return run_exec(x_memfd, "memfd_create + execveat(AT_EMPTY_PATH) of a copy of " PAYLOAD_TMP);
}
static int a_exec_procfd(void) { return run_exec(x_procfd, "execve(/proc/self/fd/N -> " PAYLOAD_TMP ")"); }
static int a_exec_ldso(void)
{
	if (access(LDSO, X_OK) < 0 || access(PAYLOAD_DYN_TMP, F_OK) < 0)
		return attack_error("fixture: needs " LDSO " and " PAYLOAD_DYN_TMP
				    " (pass bypass-payload-dyn with kernel-lab.sh --bin)");
	return run_exec(x_ldso, LDSO " " PAYLOAD_DYN_TMP);
}

/* Runs the mapped code (mov eax,42; ret) and leaves the proof itself once it returned 42. */
static int ran_mapped_code(void *code, const char *what)
{
	int r = ((int (*)(void))code)();
	if (r != 42)
		return attack_error("%s: mapped code returned %d", what, r);
	char p[256];
	snprintf(p, sizeof(p), PROOF_DIR "/%s", cur_id);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	return attack_ok("%s: executed code from " CODE_TMP, what);
}

static int a_mmap_exec(void)
{
	int fd = open(CODE_TMP, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return attack_error("open(" CODE_TMP "): %s", errname(errno));
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return attack_denied(errno, "mmap(" CODE_TMP ", PROT_EXEC)");
	return ran_mapped_code(p, "mmap PROT_EXEC");
}

static int a_mprotect_exec(void)
{
	int fd = open(CODE_TMP, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return attack_error("open(" CODE_TMP "): %s", errname(errno));
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return attack_error("mmap(" CODE_TMP ", PROT_READ): %s", errname(errno));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0)
		return attack_denied(errno, "mprotect(PROT_EXEC) of a mapping of " CODE_TMP);
	return ran_mapped_code(p, "mmap PROT_READ + mprotect PROT_EXEC");
}

static int a_otrunc(void) { return open_and_write(TARGET, O_WRONLY | O_TRUNC, "O_TRUNC"); }
static int a_append(void) { return open_and_write(TARGET, O_WRONLY | O_APPEND, "O_APPEND"); }

static int a_truncate(void)
{
	if (truncate(TARGET, 0) < 0)
		return attack_denied(errno, "truncate(" TARGET ", 0)");
	return attack_ok("truncate(" TARGET ", 0) succeeded");
}

static int a_ftruncate(void)
{
	int fd = open(TARGET, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return attack_denied(errno, "open(" TARGET ", O_WRONLY) for ftruncate");
	if (ftruncate(fd, 0) < 0)
		return attack_denied(errno, "ftruncate after a successful O_WRONLY open");
	return attack_ok("open(O_WRONLY) + ftruncate(0) succeeded");
}

static int a_chmod(void)
{
	if (chmod(TARGET, 0666) < 0)
		return attack_denied(errno, "chmod(" TARGET ", 0666)");
	return attack_ok("chmod(" TARGET ", 0666) succeeded");
}

static int a_chown(void)
{
	if (chown(TARGET, 1000, 1000) < 0)
		return attack_denied(errno, "chown(" TARGET ", 1000, 1000)");
	return attack_ok("chown(" TARGET ", 1000, 1000) succeeded");
}

static int a_setxattr(void)
{
	if (setxattr(TARGET, "trusted.bypass", "1", 1, 0) < 0)
		return attack_denied(errno, "setxattr(" TARGET ", trusted.bypass)");
	return attack_ok("setxattr(" TARGET ", trusted.bypass) succeeded");
}

/* fd PREOPEN_FD was opened O_WRONLY on the target before this process entered the cgroup. */
static int check_preopen(void)
{
	struct stat a, b;
	if (fstat(PREOPEN_FD, &a) < 0 || stat(TARGET, &b) < 0 || a.st_ino != b.st_ino ||
	    (fcntl(PREOPEN_FD, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return attack_error("fd %d is not a write fd on " TARGET
				    " (does the cgroup-entry command keep inherited fds?)", PREOPEN_FD);
	return 0;
}

static int a_preopen_write(void)
{
	int rc = check_preopen();
	if (rc)
		return rc;
	if (write(PREOPEN_FD, junk, sizeof(junk) - 1) < 0)
		return attack_denied(errno, "write() on a pre-opened fd");
	return attack_ok("write() on a pre-opened fd succeeded");
}

static int a_preopen_ftruncate(void)
{
	int rc = check_preopen();
	if (rc)
		return rc;
	if (ftruncate(PREOPEN_FD, 0) < 0)
		return attack_denied(errno, "ftruncate() on a pre-opened fd");
	return attack_ok("ftruncate() on a pre-opened fd succeeded");
}

static int a_opath_linkat_empty(void)
{
	int fd = open(TARGET, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return attack_denied(errno, "open(" TARGET ", O_PATH)");
	if (linkat(fd, "", AT_FDCWD, SCRATCH "/opath-link", AT_EMPTY_PATH) < 0)
		return attack_denied(errno, "linkat(O_PATH fd, \"\", AT_EMPTY_PATH)");
	return alias_then_write(SCRATCH "/opath-link", "O_PATH + linkat(AT_EMPTY_PATH)");
}

static int a_opath_linkat_procfd(void)
{
	int fd = open(TARGET, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return attack_denied(errno, "open(" TARGET ", O_PATH)");
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, p, AT_FDCWD, SCRATCH "/procfd-link", AT_SYMLINK_FOLLOW) < 0)
		return attack_denied(errno, "linkat(%s, AT_SYMLINK_FOLLOW)", p);
	return alias_then_write(SCRATCH "/procfd-link", "O_PATH + linkat(/proc/self/fd/N)");
}

static int a_opath_reopen(void)
{
	int fd = open(TARGET, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return attack_denied(errno, "open(" TARGET ", O_PATH)");
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open_and_write(p, O_WRONLY | O_TRUNC, "O_PATH fd reopened via /proc/self/fd, O_TRUNC");
}

static int a_handle_trunc(void)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	int mount_id;
	if (name_to_handle_at(AT_FDCWD, TARGET, &h.fh, &mount_id, 0) < 0)
		return attack_denied(errno, "name_to_handle_at(" TARGET ")");
	int mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* O_PATH gives EBADF here */
	int fd = open_by_handle_at(mfd, &h.fh, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return attack_denied(errno, "open_by_handle_at(" TARGET ", O_WRONLY|O_TRUNC)");
	close(fd);
	return attack_ok("open_by_handle_at(O_WRONLY|O_TRUNC) succeeded");
}

static int a_openat2_trunc(void)
{
	struct open_how how = {.flags = O_WRONLY | O_TRUNC | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, TARGET, &how, sizeof(how));
	if (fd < 0)
		return attack_denied(errno, "openat2(" TARGET ", O_WRONLY|O_TRUNC, RESOLVE_NO_SYMLINKS)");
	close(fd);
	return attack_ok("openat2(O_WRONLY|O_TRUNC) succeeded");
}

/* cwd at the bottom of the deep tree; the file's full path is then longer than PATH_MAX. */
static int enter_deep(void)
{
	int fd = deep_dir_open();
	if (fd < 0 || fchdir(fd) < 0)
		return attack_error("fixture: cannot enter the deep tree under " DEEP_TOP ": %s",
				    errname(errno));
	close(fd);
	return 0;
}
#define DEEP_PATH_LEN (sizeof(DEEP_TOP) + DEEP_LEVELS * (DEEP_NAME_LEN + 1) + sizeof(DEEP_FILE))

static int a_long_trunc(void)
{
	int rc = enter_deep();
	if (rc)
		return rc;
	char what[64];
	snprintf(what, sizeof(what), "O_TRUNC of a %zu-byte path", DEEP_PATH_LEN);
	return open_and_write(DEEP_FILE, O_WRONLY | O_TRUNC, what);
}

static int a_long_unlink(void)
{
	int rc = enter_deep();
	if (rc)
		return rc;
	if (unlink(DEEP_FILE) < 0)
		return attack_denied(errno, "unlink of a %zu-byte path", DEEP_PATH_LEN);
	return attack_ok("unlink of a %zu-byte path succeeded", DEEP_PATH_LEN);
}

const struct attack attacks[] = {
	{"L0a", "direct-unlink", NULL, a_direct_unlink},
	{"L1a", "hardlink-preexisting-write", NULL, a_prelink_write},
	{"L1b", "hardlink-new", NULL, a_newlink_write},
	{"L2a", "symlink-file-otrunc", NULL, a_symlink_trunc},
	{"L2b", "symlink-dir-unlink", NULL, a_symlink_dir_unlink},
	{"L2c", "dotdot-unlink", NULL, a_dotdot_unlink},
	{"L2d", "proc-self-root-unlink", NULL, a_proc_root_unlink},
	{"L2e", "relative-cwd-otrunc", NULL, a_relative_trunc},
	{"L2f", "proc-self-cwd-unlink", NULL, a_proc_cwd_unlink},
	{"L3a", "chroot-unlink", NULL, a_chroot_unlink},
	{"L4a", "bind-mount-unlink", NULL, a_bind_unlink},
	{"L5a", "rename-out", NULL, a_rename_out},
	{"L5b", "rename-over", NULL, a_rename_over},
	{"L5c", "rename-exchange", NULL, a_rename_exchange},
	{"L5d", "rename-ancestor-dir", NULL, a_rename_ancestor},
	{"L5e", "rename-etc", NULL, a_rename_etc},
	{"L6a", "create-in-etc", NULL, a_create},
	{"L6b", "mkdir-in-etc", NULL, a_mkdir},
	{"L7a", "io-uring-unlinkat", NULL, a_uring_unlink},
	{"L7b", "io-uring-renameat", NULL, a_uring_rename},
	{"L7c", "io-uring-openat-otrunc", NULL, a_uring_open_trunc},
	{"L7d", "io-uring-linkat", NULL, a_uring_link},
	{"L8a", "exec-tmp", NULL, a_exec_tmp},
	{"L8b", "exec-dev-shm", NULL, a_exec_shm},
	{"L8c", "memfd-execveat", NULL, a_exec_memfd},
	{"L8d", "ldso-exec-tmp", NULL, a_exec_ldso},
	{"L8e", "mmap-exec-tmp", NULL, a_mmap_exec},
	{"L8f", "mprotect-exec-tmp", NULL, a_mprotect_exec},
	{"L8g", "proc-fd-exec-tmp", NULL, a_exec_procfd},
	{"L9a", "open-otrunc", NULL, a_otrunc},
	{"L9b", "open-append-write", NULL, a_append},
	{"L9c", "truncate", NULL, a_truncate},
	{"L9d", "ftruncate", NULL, a_ftruncate},
	{"L9e", "chmod", NULL, a_chmod},
	{"L9f", "chown", NULL, a_chown},
	{"L9g", "setxattr", NULL, a_setxattr},
	{"L10a", "preopened-fd-write", TARGET, a_preopen_write},
	{"L10b", "preopened-fd-ftruncate", TARGET, a_preopen_ftruncate},
	{"L11a", "opath-linkat-empty-path", NULL, a_opath_linkat_empty},
	{"L11b", "opath-linkat-proc-fd", NULL, a_opath_linkat_procfd},
	{"L11c", "opath-reopen-proc-fd-otrunc", NULL, a_opath_reopen},
	{"L12a", "open-by-handle-otrunc", NULL, a_handle_trunc},
	{"L13a", "openat2-otrunc", NULL, a_openat2_trunc},
	{"L15a", "long-path-otrunc", NULL, a_long_trunc},
	{"L15b", "long-path-unlink", NULL, a_long_unlink},
};
const size_t n_attacks = sizeof(attacks) / sizeof(attacks[0]);

int attack_run(const struct attack *a)
{
	cur_id = a->id;
	return a->run();
}
