/* Shared declarations of the bypass-suite attack program (see ../README.md). */
#ifndef BYPASS_H
#define BYPASS_H

#include <stddef.h>

/* Fixture paths. /etc and /var/lib share one filesystem in the lab (the tmpfs root), which hard
 * links and renames between them need. Exec payloads live under /tmp and /dev/shm. */
#define TARGET "/etc/shadow"
#define SECRET_DIR "/etc/secret-dir"
#define SECRET_FILE SECRET_DIR "/secret.txt"
#define DEEP_TOP SECRET_DIR "/deep"
#define SCRATCH "/var/lib/bypass"
#define PRISTINE "/var/lib/bypass-pristine"
#define PRELINK SCRATCH "/shadow-prelink"
#define DECOY SCRATCH "/decoy"
#define ETC_MOVED "/etc.bypass-moved"
#define BIND_DIR SCRATCH "/bind"
#define PROOF_DIR "/run/bypass-proof"
#define PAYLOAD_TMP "/tmp/bypass-payload"
#define PAYLOAD_SHM "/dev/shm/bypass-payload"
#define PAYLOAD_DYN_SRC "/usr/local/bin/bypass-payload-dyn"
#define PAYLOAD_DYN_TMP "/tmp/bypass-payload-dyn"
#define CODE_TMP "/tmp/bypass-code.bin"
#define LDSO "/lib64/ld-linux-x86-64.so.2"
#define PREOPEN_FD 3

/* The deep tree: DEEP_LEVELS directories of DEEP_NAME_LEN chars under DEEP_TOP, so the target's
 * path is longer than PATH_MAX (4096) and any fixed path buffer. */
#define DEEP_LEVELS 24
#define DEEP_NAME_LEN 200
#define DEEP_FILE "target"

/* An attack reports through these; each prints one "RESULT ..." line and returns the exit code. */
int attack_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int attack_denied(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int attack_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct attack {
	const char *id;
	const char *name;
	/* Path opened O_WRONLY onto fd PREOPEN_FD before the process enters the cgroup, or NULL. */
	const char *preopen;
	int (*run)(void);
};
extern const struct attack attacks[];
extern const size_t n_attacks;

int attack_run(const struct attack *a);
int fixture_setup(void);
int fixture_state(void);

/* Opens the deep directory (the deepest level) fd-relatively; returns an O_PATH|O_DIRECTORY fd. */
int deep_dir_open(void);
/* Removes a tree fd-relatively (works past PATH_MAX); missing is fine. */
int remove_tree(int dirfd, const char *name);

/* Submits one SQE on a fresh io_uring and returns the CQE result (or -errno of the setup). */
struct io_uring_sqe;
int uring_run_one(const struct io_uring_sqe *sqe);

const char *errname(int err);

#endif
