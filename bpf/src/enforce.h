/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * palisade enforcement: map layouts and the decision record, shared by enforce.bpf.c and
 * mirrored by hand in bpf/src/enforce_events.rs (a layout test there checks the sizes).
 *
 * How a decision is made (every step is a constant number of map lookups, whatever the number
 * of rules, policies or containers):
 *
 *  1. cgroup id -> struct pal_binding (hash): up to PAL_ENF_SETS policy-set ids and a mode.
 *     No entry = not protected, the hook returns at once.  A cgroup created below a bound one
 *     inherits its binding in the cgroup_mkdir tracepoint, so moving into a child cgroup does
 *     not escape (the hot path stays one lookup of the leaf id).
 *  2. The path comes from kernel objects only (path.h: dentry/mount walk to the mount-namespace
 *     root, so chroot cannot shift it), never from a user pointer.
 *  3. Per set: one LPM-trie lookup with key (set id, kind, first PAL_ENF_KEY_PATH path bytes).
 *     Exact paths are stored with their terminating NUL, prefixes without, so exact and prefix
 *     rules share the trie.  Suffix rules live in the same trie under another kind, keyed by the
 *     reversed path.  The longest match carries, per operation, the ordered list of candidate
 *     rules that match at that node: the compiler folds every shorter (ancestor) match into it,
 *     so "first rule in file order wins" is decided from one node, not by walking rules.
 *     A candidate list stops at the first candidate with no extra condition (uid, binary).
 *  4. Nothing matched and the op is one the policy lists with defaultAction deny -> deny.
 *  5. A path the walk could not resolve completely (too deep, too long) is denied for any op
 *     the set can deny (fail closed), and the record says so.
 */
#ifndef PALISADE_ENFORCE_H
#define PALISADE_ENFORCE_H

#include "palisade.h"

#define PAL_ENF_SETS 4		/* policies bound to one cgroup */
#define PAL_ENF_OPS 16		/* enum pal_op */
#define PAL_ENF_CANDS 4		/* candidate rules per op per trie node */
#define PAL_ENF_KEY_PATH 248	/* path bytes in a trie key (LPM data is at most 256 bytes) */
#define PAL_ENF_REC_PATH 512	/* path bytes carried in a decision record, power of two */
#define PAL_ENF_NET_CANDS 8	/* candidate rules per network trie node */
#define PAL_ENF_RULES 2048	/* rules per policy (bits in a binary-match bitmap) */

/* Same order as Operation::ALL in enforcer/src/policy/model.rs. */
enum pal_op {
	PAL_OP_READ = 0,
	PAL_OP_WRITE,
	PAL_OP_CREATE,
	PAL_OP_UNLINK,
	PAL_OP_RENAME,
	PAL_OP_LINK,
	PAL_OP_SYMLINK,
	PAL_OP_TRUNCATE,
	PAL_OP_CHMOD,
	PAL_OP_CHOWN,
	PAL_OP_SETXATTR,
	PAL_OP_MKDIR,
	PAL_OP_RMDIR,
	PAL_OP_EXEC,
	PAL_OP_MMAP_EXEC,
	PAL_OP_CONNECT,
};

enum pal_action {
	PAL_ACT_NONE = 0,	/* end of a candidate list */
	PAL_ACT_ALLOW = 1,
	PAL_ACT_AUDIT = 2,
	PAL_ACT_DENY = 3,
	PAL_ACT_KILL = 4,	/* deny-and-kill */
};

enum pal_mechanism {
	PAL_MECH_LSM = 1,	/* BPF LSM program: inline deny */
	PAL_MECH_FMOD_RET = 2,	/* fmod_ret on security_*: inline deny */
	PAL_MECH_TRACEPOINT = 3,	/* sys_enter tracepoint + SIGKILL: does NOT prevent */
	PAL_MECH_CGROUP = 4,	/* cgroup sock_addr program: inline deny */
};

enum pal_hook {
	PAL_HOOK_FILE_OPEN = 1,
	PAL_HOOK_PATH_UNLINK,
	PAL_HOOK_PATH_RENAME,
	PAL_HOOK_PATH_LINK,
	PAL_HOOK_PATH_SYMLINK,
	PAL_HOOK_PATH_TRUNCATE,
	PAL_HOOK_FILE_TRUNCATE,
	PAL_HOOK_PATH_CHMOD,
	PAL_HOOK_PATH_CHOWN,
	PAL_HOOK_INODE_SETXATTR,
	PAL_HOOK_INODE_REMOVEXATTR,
	PAL_HOOK_PATH_MKDIR,
	PAL_HOOK_PATH_RMDIR,
	PAL_HOOK_BPRM_CHECK,
	PAL_HOOK_MMAP_FILE,
	PAL_HOOK_FILE_MPROTECT,
	PAL_HOOK_CONNECT4,
	PAL_HOOK_CONNECT6,
	PAL_HOOK_SENDMSG4,
	PAL_HOOK_SENDMSG6,
	PAL_HOOK_SYS_UNLINKAT,
	PAL_HOOK_SYS_RENAMEAT,
	PAL_HOOK_SYS_OPENAT,
	PAL_HOOK_SYS_TRUNCATE,
	PAL_HOOK_SYS_FCHMODAT,
	PAL_HOOK_SYS_FCHOWNAT,
	PAL_HOOK_SYS_LINKAT,
	PAL_HOOK_SYS_MKDIRAT,
	PAL_HOOK_PATH_MKNOD,
	PAL_HOOK_FILE_PERMISSION,
	PAL_HOOK_SB_MOUNT,
	PAL_HOOK_SYS_EXECVE,
};

/* Trie key kinds (low bits of pal_trie_key.scope). */
enum pal_trie_kind {
	PAL_TRIE_PATH = 0,	/* forward path: exact (with NUL) and prefix */
	PAL_TRIE_PATH_REV = 1,	/* reversed path: suffix */
	PAL_TRIE_BIN = 2,	/* forward binary path (exact, prefix) */
	PAL_TRIE_BIN_REV = 3,	/* reversed binary path (suffix) */
};

/* pal_cand.cond bits */
#define PAL_COND_UID (1u << 0)	/* euid must be in pal_rule_uids */
#define PAL_COND_BIN (1u << 1)	/* binary must match: bit `rule` of the binary-trie bitmap */
#define PAL_COND_NSPID (1u << 2)	/* pid in its own pid namespace listed in pal_rule_uids ... */
#define PAL_COND_NSPID_NOT (1u << 3)	/* ... not listed there (keys: rule | PAL_NSPID_RULE) */
#define PAL_NSPID_RULE 0x80000000u

/* pal_binding.mode */
#define PAL_BIND_ENFORCE 0
#define PAL_BIND_AUDIT 1	/* every deny is reported, nothing is prevented */

/* pal_decision.flags */
#define PAL_DF_TRUNC_PATH (1u << 0)	/* path could not be resolved completely: failed closed */
#define PAL_DF_REC_PATH_CUT (1u << 1)	/* path longer than the record: cut (decision used it whole) */
#define PAL_DF_REC_PATH2_CUT (1u << 2)
#define PAL_DF_DEFAULT (1u << 3)	/* no rule matched: the policy's defaultAction acted */
#define PAL_DF_KILLED (1u << 4)		/* SIGKILL sent */
#define PAL_DF_AUDIT_MODE (1u << 5)	/* the binding or policy is in audit mode: deny downgraded */
#define PAL_DF_PATH2 (1u << 6)		/* the second path (rename/link target) matched */
#define PAL_DF_INODE (1u << 7)		/* matched through the file's protected name (hard link) */
#define PAL_DF_MOUNT_GUARD (1u << 8)	/* bind/move mount refused: it would give protected files new paths */

#define PAL_OP_MOUNT 16			/* pseudo-op of mount-guard records (not a policy operation) */

#define PAL_RULE_NONE 0xffff		/* rule field when no rule acted (default, truncation) */

struct pal_binding {
	__u32 nsets;
	__u32 mode;
	__u32 sets[PAL_ENF_SETS];
	__u64 root;		/* 0: bound itself; else the bound ancestor this entry was inherited from */
};

/* Per policy set. */
struct pal_set_cfg {
	__u32 listed_ops;	/* ops some rule names: defaultAction applies to these */
	__u32 deny_ops;		/* ops that some rule or the default can deny: fail closed on truncation */
	__u8 default_action;	/* enum pal_action; NONE = allow */
	__u8 has_suffix;	/* look up the reversed path too */
	__u8 has_bin_suffix;
	__u8 audit;		/* policy spec.mode: audit */
};

struct pal_trie_key {
	__u32 prefixlen;	/* bits, counted from scope */
	__u32 scope;		/* set id << 2 | enum pal_trie_kind */
	__u8 path[PAL_ENF_KEY_PATH];
};

struct pal_cand {
	__u16 rule;		/* index in the policy's rules */
	__u8 action;		/* enum pal_action */
	__u8 cond;		/* PAL_COND_* */
};

/* Value of a path node: candidates per op; of a binary node: which rules' binary matchers hold. */
union pal_trie_val {
	struct pal_cand cand[PAL_ENF_OPS][PAL_ENF_CANDS];
	__u64 bin_rules[PAL_ENF_RULES / 64];
};

/*
 * Hard links: a protected file with more than one name can be reached by a name no rule
 * mentions.  pal_aliases maps the identity (device, inode) of such a file to its protected
 * name, as a ready trie key (set id filled in per lookup).  Entries come from userspace at
 * apply (links that already exist) and from the path_link hook for every process (links made
 * later, even outside protected cgroups), which records the identity whenever the existing name
 * is protected by any applied policy (set id 0 holds the union of protected names).  A hook that
 * sees an object with more than one link also evaluates the policy on the protected name.
 */
#define PAL_SET_ANY 0

struct pal_alias_key {
	__u32 dev;		/* kernel encoding: major << 20 | minor */
	__u32 _pad;
	__u64 ino;
};

struct pal_alias {
	__u32 prefixlen;	/* as in pal_trie_key */
	__u8 path[PAL_ENF_KEY_PATH];
};

struct pal_uid_key {
	__u32 set;
	__u32 rule;
	__u32 uid;
};

/* Network: LPM over (set, address); value = ordered candidates with their port. */
struct pal_net_key {
	__u32 prefixlen;	/* bits, counted from set */
	__u32 set;
	__u8 family;		/* 4 or 6 */
	__u8 addr[16];
};

struct pal_net_cand {
	__u16 rule;
	__u16 port;		/* host order; 0 = any */
	__u8 action;
	__u8 cond;
	__u8 proto;		/* 0 = any; reserved */
	__u8 _pad;
};

struct pal_net_val {
	struct pal_net_cand cand[PAL_ENF_NET_CANDS];
};

/* Ring-buffer record (hdr.kind = PAL_EV_ENFORCE). */
struct pal_decision {
	struct pal_hdr hdr;
	__u32 set_id;
	__u16 rule;		/* PAL_RULE_NONE when no rule acted */
	__u8 action;		/* enum pal_action that took effect */
	__u8 op;		/* enum pal_op */
	__u8 hook;		/* enum pal_hook */
	__u8 mechanism;		/* enum pal_mechanism */
	__u8 prevented;		/* 1 = the operation did not happen */
	__u8 family;		/* connect: 4 or 6 */
	__s32 err;		/* returned to the caller (-EPERM) or 0 */
	__u32 flags;		/* PAL_DF_* */
	__u16 path_len;
	__u16 path2_len;
	__u16 port;		/* connect: destination port, host order */
	__u16 _pad;
	__u8 addr[16];
	char comm[16];
	char path[PAL_ENF_REC_PATH];
	char path2[PAL_ENF_REC_PATH];
};

#endif
