// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Inline enforcement.  One object holds every mechanism so that all of them share one set of
 * maps; the loader picks which programs load (set_autoload) after probing the kernel:
 *   lsm/...        BPF LSM hooks, when `bpf` is an active LSM (inline -EPERM)
 *   fmod_ret/...   the same bodies on security_* functions, when trampolines work but the bpf
 *                  LSM is not active (inline -EPERM)
 *   tp/syscalls/... last resort: SIGKILL from sys_enter, which does NOT prevent the operation
 *   cgroup/...     connect/sendmsg deny, independent of the above (works without trampolines)
 * Map layouts and the decision procedure are described in enforce.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "palisade.h"
#include "path.h"
#include "enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EPERM 1
#define SIGKILL 9
#define PROT_EXEC 0x4
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define O_TRUNC 01000
#define S_IFMT 00170000
#define S_IFDIR 0040000

/* Stats indices (per-CPU array). */
enum {
	ENF_STAT_DECISIONS = 0,
	ENF_STAT_RB_DROPS = 1,
	ENF_STAT_TRUNCATED = 2,
	ENF_STAT_MAX = 8,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* replaced values are freed after RCU: readers stay safe */
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct pal_binding);
} pal_bindings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pal_set_cfg);
} pal_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct pal_trie_key);
	__type(value, union pal_trie_val);
} pal_trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pal_alias_key);
	__type(value, struct pal_alias);
} pal_aliases SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pal_uid_key);
	__type(value, __u8);
} pal_rule_uids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct pal_net_key);
	__type(value, struct pal_net_val);
} pal_net SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} pal_decisions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ENF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} pal_enf_stats SEC(".maps");

/* Per-CPU working memory of one hook invocation (the stack is only 512 bytes). */
struct pal_enf_heap {
	char path[2][PAL_PATH_MAX];	/* resolved paths, NUL-free, path[i][0 .. len[i]) */
	char exe[PAL_PATH_MAX];
	__u32 len[2];
	__u64 ino[2];			/* identity of the object at path[i] (0 = none) */
	__u32 dev[2];
	__u32 nlink[2];
	__u32 exe_len;
	__u32 euid;
	__u8 trunc[2];
	__u8 exe_state;			/* 0 = not resolved yet, 1 = ok, 2 = truncated/none */
	__u8 rev_built[2];
	__u8 _pad[3];
	struct pal_trie_key kf[2];	/* forward keys of path[0], path[1] */
	struct pal_trie_key kr[2];	/* reversed keys */
	struct pal_trie_key kb;		/* binary key */
	struct pal_trie_key ka;		/* protected name of a hard-linked object */
	struct pal_alias alias;		/* value being recorded by note_alias */
	struct pal_decision rec;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pal_enf_heap);
} pal_enf_heap_map SEC(".maps");

static __always_inline struct pal_enf_heap *heap(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pal_enf_heap_map, &zero);
}

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&pal_enf_stats, &idx);

	if (v)
		*v += 1;
}

/* ---- keys ---------------------------------------------------------------------------- */

/* Forward key: the first PAL_ENF_KEY_PATH bytes, plus a NUL when the whole path fits, so that
 * exact entries (stored with their NUL) only match the whole path. */
static __always_inline void key_fwd(struct pal_trie_key *k, const char *p, __u32 len)
{
	__u32 n = len < PAL_ENF_KEY_PATH ? len : PAL_ENF_KEY_PATH;

	k->prefixlen = n < PAL_ENF_KEY_PATH ? 32 + 8 * (n + 1) : 32 + 8 * PAL_ENF_KEY_PATH;
	/* The mask only bounds the size for the verifier (n <= 248 already); the barrier keeps
	 * clang from dropping it or reusing the unclamped `len`.  Every key lives in the per-CPU
	 * heap with more than 8 bytes after it, so even 255 would stay inside the map value. */
	barrier_var(n);
	n &= 0xff;
	bpf_probe_read_kernel(k->path, n, p);
	if (n < PAL_ENF_KEY_PATH)
		k->path[n] = 0;
}

/* Which buffer a reversed key is built from / into. */
enum { REV_PATH0 = 0, REV_PATH1 = 1, REV_EXE = 2 };

struct rev_ctx {
	__u32 which;
	__u32 len;
};

static long rev_step(__u64 i, void *arg)
{
	struct rev_ctx *c = arg;
	__u32 zero = 0;
	struct pal_enf_heap *h = bpf_map_lookup_elem(&pal_enf_heap_map, &zero);

	if (!h || i >= c->len || i >= PAL_ENF_KEY_PATH)
		return 1;
	__u32 src = (c->len - 1 - i) & (PAL_PATH_MAX - 1);

	if (c->which == REV_EXE)
		h->kb.path[i] = h->exe[src];
	else if (c->which == REV_PATH1)
		h->kr[1].path[i] = h->path[1][src];
	else
		h->kr[0].path[i] = h->path[0][src];
	return 0;
}

/* Reversed key: the last PAL_ENF_KEY_PATH bytes, last byte first (suffix rules).  Built under
 * bpf_loop so the verifier checks one step, not 248. */
static __always_inline void key_rev(struct pal_enf_heap *h, __u32 which, __u32 len)
{
	struct rev_ctx c = { .which = which, .len = len };
	struct pal_trie_key *k = which == REV_EXE ? &h->kb : which == REV_PATH1 ? &h->kr[1] : &h->kr[0];
	__u32 n = len < PAL_ENF_KEY_PATH ? len : PAL_ENF_KEY_PATH;

	bpf_loop(PAL_ENF_KEY_PATH, rev_step, &c, 0);
	k->prefixlen = n < PAL_ENF_KEY_PATH ? 32 + 8 * (n + 1) : 32 + 8 * PAL_ENF_KEY_PATH;
	barrier_var(n);
	n &= 0xff;
	if (n < PAL_ENF_KEY_PATH)
		k->path[n] = 0;
}

/* ---- path resolution ------------------------------------------------------------------- */

/* Resolves (dentry, mnt) into h->path[slot] and builds its forward key. */
static __always_inline void resolve(struct pal_enf_heap *h, int slot, struct dentry *d, struct vfsmount *m)
{
	struct pal_walked w = {};
	struct pal_path_scratch *s = pal_walk_path(d, m, &w);
	__u32 len = w.len & (PAL_PATH_MAX - 1);

	slot &= 1;
	h->rev_built[slot] = 0;
	struct inode *ino = BPF_CORE_READ(d, d_inode);

	h->ino[slot] = ino ? BPF_CORE_READ(ino, i_ino) : 0;
	h->dev[slot] = ino ? BPF_CORE_READ(ino, i_sb, s_dev) : 0;
	h->nlink[slot] = ino ? BPF_CORE_READ(ino, __i_nlink) : 0;
	if (!s) {
		h->len[slot] = 0;
		h->trunc[slot] = 1;
		return;
	}
	bpf_probe_read_kernel(h->path[slot], len, &s->buf[w.off & (PAL_PATH_MAX - 1)]);
	h->len[slot] = len;
	h->trunc[slot] = w.truncated;
	key_fwd(&h->kf[slot], h->path[slot], len);
}

/* The executable of the current process, resolved once per hook invocation (binary rules). */
static __always_inline int resolve_exe(struct pal_enf_heap *h)
{
	if (h->exe_state)
		return h->exe_state == 1;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file *f = BPF_CORE_READ(t, mm, exe_file);
	struct pal_walked w = {};
	struct pal_path_scratch *s;

	h->exe_state = 2;
	if (!f)
		return 0;
	s = pal_walk_path(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), &w);
	if (!s || w.truncated)
		return 0;
	__u32 len = w.len & (PAL_PATH_MAX - 1);
	bpf_probe_read_kernel(h->exe, len, &s->buf[w.off & (PAL_PATH_MAX - 1)]);
	h->exe_len = len;
	h->exe_state = 1;
	return 1;
}

/* ---- evaluation -------------------------------------------------------------------------- */

static __always_inline int bin_bit(union pal_trie_val *v, __u32 rule)
{
	if (!v)
		return 0;
	return (v->bin_rules[(rule / 64) & (PAL_ENF_RULES / 64 - 1)] >> (rule % 64)) & 1;
}

/* Does rule `rule` of `set` match the current executable?  Global: verified once. */
__noinline int pal_bin_match(__u32 set, __u32 rule)
{
	struct pal_enf_heap *h = heap();
	struct pal_set_cfg *cfg = bpf_map_lookup_elem(&pal_sets, &set);

	if (!h || !cfg || !resolve_exe(h))
		return 0;
	h->kb.scope = set << 2 | PAL_TRIE_BIN;
	key_fwd(&h->kb, h->exe, h->exe_len);
	if (bin_bit(bpf_map_lookup_elem(&pal_trie, &h->kb), rule))
		return 1;
	if (!cfg->has_bin_suffix)
		return 0;
	h->kb.scope = set << 2 | PAL_TRIE_BIN_REV;
	key_rev(h, REV_EXE, h->exe_len);
	return bin_bit(bpf_map_lookup_elem(&pal_trie, &h->kb), rule);
}

/* The current process's pid (tgid) as seen in its own, innermost pid namespace: 1 for a
 * container's init. */
static __always_inline __u32 ns_tgid(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct pid *p = BPF_CORE_READ(t, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid u = {};

	bpf_core_read(&u, sizeof(u), &p->numbers[level & 31]);
	return u.nr;
}

static __always_inline int cond_ok(struct pal_enf_heap *h, __u32 set, struct pal_cand c)
{
	if (c.cond & PAL_COND_UID) {
		struct pal_uid_key k = { .set = set, .rule = c.rule, .uid = h->euid };

		if (!bpf_map_lookup_elem(&pal_rule_uids, &k))
			return 0;
	}
	if (c.cond & (PAL_COND_NSPID | PAL_COND_NSPID_NOT)) {
		struct pal_uid_key k = { .set = set, .rule = c.rule | PAL_NSPID_RULE, .uid = ns_tgid() };
		bool listed = bpf_map_lookup_elem(&pal_rule_uids, &k) != NULL;

		if (listed != !!(c.cond & PAL_COND_NSPID))
			return 0;
	}
	if (c.cond & PAL_COND_BIN)
		return pal_bin_match(set, c.rule);
	return 1;
}

/* Index of the first candidate of list `op` in v whose conditions hold, or -1. */
static __always_inline int first_match(struct pal_enf_heap *h, __u32 set, union pal_trie_val *v, __u32 op)
{
	if (!v)
		return -1;
	for (int i = 0; i < PAL_ENF_CANDS; i++) {
		struct pal_cand c = v->cand[op & (PAL_ENF_OPS - 1)][i];

		if (c.action == PAL_ACT_NONE)
			return -1;
		if (!c.cond || cond_ok(h, set, c))
			return i;
	}
	return -1;
}

#define V_ACTION(v) ((v) & 0xff)
#define V_RULE(v) (((v) >> 8) & 0xffff)
#define V_DEFAULT (1 << 24)
#define V_TRUNC (1 << 25)
#define V_INODE (1 << 26)
#define V_MAKE(action, rule) ((int)(action) | (int)(rule) << 8)

/*
 * The decision of one policy set for one operation on h->path[slot]: action | rule << 8 | flags.
 * A global (non-static) function: the verifier checks it once, not once per call site.
 */
__noinline int pal_eval(__u32 set, __u32 op, __u32 slot)
{
	struct pal_enf_heap *h = heap();
	struct pal_set_cfg *cfg = bpf_map_lookup_elem(&pal_sets, &set);
	union pal_trie_val *fv, *rv = NULL;
	int fi, ri = -1;
	__u32 bit = 1u << (op & (PAL_ENF_OPS - 1));

	if (!h || !cfg)
		return 0;
	slot &= 1;
	op &= PAL_ENF_OPS - 1;
	if (h->trunc[slot]) {
		stat_inc(ENF_STAT_TRUNCATED);
		if (cfg->deny_ops & bit)
			return V_MAKE(PAL_ACT_DENY, PAL_RULE_NONE) | V_TRUNC;
		return 0;
	}
	h->kf[slot].scope = set << 2 | PAL_TRIE_PATH;
	fv = bpf_map_lookup_elem(&pal_trie, &h->kf[slot]);
	fi = first_match(h, set, fv, op);
	if (cfg->has_suffix) {
		if (!h->rev_built[slot]) {
			key_rev(h, slot ? REV_PATH1 : REV_PATH0, h->len[slot]);
			h->rev_built[slot] = 1;
		}
		h->kr[slot].scope = set << 2 | PAL_TRIE_PATH_REV;
		rv = bpf_map_lookup_elem(&pal_trie, &h->kr[slot]);
		ri = first_match(h, set, rv, op);
	}
	/* another name of a protected multiply-linked file: its canonical path's rules apply */
	union pal_trie_val *iv = NULL;
	int ii = -1;

	if (h->nlink[slot] > 1) {
		struct pal_alias_key ak = { .dev = h->dev[slot], .ino = h->ino[slot] };
		struct pal_alias *a = bpf_map_lookup_elem(&pal_aliases, &ak);

		if (a) {
			bpf_probe_read_kernel(h->ka.path, sizeof(h->ka.path), a->path);
			h->ka.prefixlen = a->prefixlen;
			h->ka.scope = set << 2 | PAL_TRIE_PATH;
			iv = bpf_map_lookup_elem(&pal_trie, &h->ka);
			ii = first_match(h, set, iv, op);
		}
	}
	struct pal_cand c = {};
	int by_inode = 0;

	if (fv && fi >= 0)
		c = fv->cand[op][fi & (PAL_ENF_CANDS - 1)];
	if (rv && ri >= 0) {
		struct pal_cand r = rv->cand[op][ri & (PAL_ENF_CANDS - 1)];

		if (c.action == PAL_ACT_NONE || r.rule < c.rule)
			c = r;
	}
	if (iv && ii >= 0) {
		struct pal_cand r = iv->cand[op][ii & (PAL_ENF_CANDS - 1)];

		if (c.action == PAL_ACT_NONE || r.rule < c.rule) {
			c = r;
			by_inode = 1;
		}
	}
	if (c.action != PAL_ACT_NONE)
		return V_MAKE(c.action, c.rule) | (by_inode ? V_INODE : 0);
	if (cfg->default_action != PAL_ACT_NONE && (cfg->listed_ops & bit))
		return V_MAKE(cfg->default_action, PAL_RULE_NONE) | V_DEFAULT;
	return 0;
}

/* ---- hooks' common tail ---------------------------------------------------------------- */

static __always_inline struct pal_binding *binding(void)
{
	__u64 cg = bpf_get_current_cgroup_id();

	return bpf_map_lookup_elem(&pal_bindings, &cg);
}

static __always_inline struct pal_enf_heap *begin(void)
{
	struct pal_enf_heap *h = heap();

	if (!h)
		return NULL;
	h->exe_state = 0;
	h->euid = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), cred, euid.val);
	return h;
}

static __always_inline void copy_rec_path(char *dst, const char *src, __u32 len, __u16 *out_len,
					  __u32 *flags, __u32 cut_flag)
{
	__u32 n = len;

	if (n > PAL_ENF_REC_PATH - 1) {
		n = PAL_ENF_REC_PATH - 1;
		*flags |= cut_flag;
	}
	bpf_probe_read_kernel(dst, n, src);
	dst[n & (PAL_ENF_REC_PATH - 1)] = 0;
	*out_len = n;
}

static __always_inline void fill_hdr(struct pal_hdr *hdr, __u32 size)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	hdr->kind = PAL_EV_ENFORCE;
	hdr->size = size;
	hdr->ktime = bpf_ktime_get_ns();
	hdr->pid = pid_tgid >> 32;
	hdr->tid = (__u32)pid_tgid;
	hdr->cgroup_id = bpf_get_current_cgroup_id();
}

static __always_inline void emit(struct pal_decision *r)
{
	fill_hdr(&r->hdr, sizeof(*r));
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	if (bpf_ringbuf_output(&pal_decisions, r, sizeof(*r), 0))
		stat_inc(ENF_STAT_RB_DROPS);
	else
		stat_inc(ENF_STAT_DECISIONS);
}

/* Strength order for combining: kill > deny > audit > allow/none. */
static __always_inline int strength(int action)
{
	return action == PAL_ACT_ALLOW ? 0 : action;
}

/*
 * Evaluates `ops` (bit mask) on the resolved paths 0 .. npaths-1 for every policy bound to the
 * current cgroup, reports the strongest decision and returns the hook's verdict.
 */
static __always_inline int decide(struct pal_enf_heap *h, struct pal_binding *b, __u32 ops, int npaths,
				  __u8 hook, __u8 mech)
{
	int best = 0, best_set = 0, best_op = 0, best_slot = 0;

	for (int i = 0; i < PAL_ENF_SETS; i++) {
		if (i >= b->nsets)
			break;
		__u32 set = b->sets[i];

		for (int slot = 0; slot < 2; slot++) {
			if (slot >= npaths)
				break;
			for (int op = 0; op < PAL_ENF_OPS; op++) {
				if (!(ops & (1u << op)))
					continue;
				int v = pal_eval(set, op, slot);

				if (strength(V_ACTION(v)) > strength(V_ACTION(best))) {
					best = v;
					best_set = set;
					best_op = op;
					best_slot = slot;
				}
			}
		}
	}
	int action = V_ACTION(best);

	if (action == PAL_ACT_NONE || action == PAL_ACT_ALLOW)
		return 0;

	struct pal_decision *r = &h->rec;
	struct pal_set_cfg *cfg = bpf_map_lookup_elem(&pal_sets, &best_set);

	r->flags = 0;
	if (best & V_DEFAULT)
		r->flags |= PAL_DF_DEFAULT;
	if (best & V_TRUNC)
		r->flags |= PAL_DF_TRUNC_PATH;
	if (best_slot)
		r->flags |= PAL_DF_PATH2;
	if (best & V_INODE)
		r->flags |= PAL_DF_INODE;
	if (b->mode == PAL_BIND_AUDIT || (cfg && cfg->audit)) {
		if (action != PAL_ACT_AUDIT)
			r->flags |= PAL_DF_AUDIT_MODE;
		action = PAL_ACT_AUDIT;
	}
	r->set_id = best_set;
	r->rule = V_RULE(best);
	r->action = action;
	r->op = best_op;
	r->hook = hook;
	r->mechanism = mech;
	r->family = 0;
	r->port = 0;
	int verdict = 0;

	if (action == PAL_ACT_DENY || action == PAL_ACT_KILL) {
		/* the tracepoint fallback cannot stop the syscall, only kill the caller */
		verdict = mech == PAL_MECH_TRACEPOINT ? 0 : -EPERM;
		if (action == PAL_ACT_KILL || mech == PAL_MECH_TRACEPOINT) {
			bpf_send_signal(SIGKILL);
			r->flags |= PAL_DF_KILLED;
		}
	}
	r->err = verdict;
	r->prevented = verdict != 0;
	copy_rec_path(r->path, h->path[0], h->len[0], &r->path_len, &r->flags, PAL_DF_REC_PATH_CUT);
	if (npaths > 1)
		copy_rec_path(r->path2, h->path[1], h->len[1], &r->path2_len, &r->flags, PAL_DF_REC_PATH2_CUT);
	else {
		r->path2[0] = 0;
		r->path2_len = 0;
	}
	emit(r);
	return verdict;
}

#define BIT(op) (1u << (op))

/* ---- hook bodies (shared by the lsm/ and fmod_ret/ programs) --------------------------- */

static __always_inline int check1(__u32 ops, struct dentry *d, struct vfsmount *m, __u8 hook, __u8 mech)
{
	struct pal_binding *b = binding();
	struct pal_enf_heap *h;

	if (!b || !(h = begin()))
		return 0;
	resolve(h, 0, d, m);
	return decide(h, b, ops, 1, hook, mech);
}

static __always_inline int check2(__u32 ops, struct dentry *d0, struct vfsmount *m0, struct dentry *d1,
				  struct vfsmount *m1, __u8 hook, __u8 mech)
{
	struct pal_binding *b = binding();
	struct pal_enf_heap *h;

	if (!b || !(h = begin()))
		return 0;
	resolve(h, 0, d0, m0);
	resolve(h, 1, d1, m1);
	return decide(h, b, ops, 2, hook, mech);
}

static __always_inline int do_file_open(struct file *file, __u8 mech)
{
	__u32 mode = BPF_CORE_READ(file, f_mode);
	__u32 flags = BPF_CORE_READ(file, f_flags);
	__u32 ops = 0;

	if (mode & FMODE_READ)
		ops |= BIT(PAL_OP_READ);
	if (mode & FMODE_WRITE)
		ops |= BIT(PAL_OP_WRITE);
	if (flags & O_TRUNC)
		ops |= BIT(PAL_OP_TRUNCATE);
	if (!ops)
		return 0;
	return check1(ops, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
		      PAL_HOOK_FILE_OPEN, mech);
}

static __always_inline int do_dir_op(__u32 op, const struct path *dir, struct dentry *dentry, __u8 hook,
				     __u8 mech)
{
	return check1(BIT(op), dentry, BPF_CORE_READ(dir, mnt), hook, mech);
}

static __always_inline int do_path_op(__u32 op, const struct path *path, __u8 hook, __u8 mech)
{
	return check1(BIT(op), BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt), hook, mech);
}

/* Both names, with the rename/exchange flags irrelevant: either end being protected denies.
 * Renaming a directory that contains protected paths matches the synthetic exact entries the
 * compiler adds for every ancestor directory of a protected path. */
static __always_inline int do_rename(const struct path *old_dir, struct dentry *old_dentry,
				     const struct path *new_dir, struct dentry *new_dentry, __u8 mech)
{
	return check2(BIT(PAL_OP_RENAME), old_dentry, BPF_CORE_READ(old_dir, mnt), new_dentry,
		      BPF_CORE_READ(new_dir, mnt), PAL_HOOK_PATH_RENAME, mech);
}

/* Records the identity of a protected file that gets a new name, whoever links it. */
static __always_inline void note_alias(struct pal_enf_heap *h)
{
	if (h->trunc[0] || !h->ino[0])
		return;
	h->kf[0].scope = PAL_SET_ANY << 2 | PAL_TRIE_PATH;
	if (!bpf_map_lookup_elem(&pal_trie, &h->kf[0]))
		return;
	struct pal_alias_key ak = { .dev = h->dev[0], .ino = h->ino[0] };

	h->alias.prefixlen = h->kf[0].prefixlen;
	bpf_probe_read_kernel(h->alias.path, sizeof(h->alias.path), h->kf[0].path);
	bpf_map_update_elem(&pal_aliases, &ak, &h->alias, BPF_ANY);
}

/* The existing name and the new one (links cannot cross mounts, so one vfsmount serves both). */
static __always_inline int do_link(struct dentry *old_dentry, const struct path *new_dir,
				   struct dentry *new_dentry, __u8 mech)
{
	struct vfsmount *m = BPF_CORE_READ(new_dir, mnt);
	struct pal_enf_heap *h = begin();
	struct pal_binding *b;

	if (!h)
		return 0;
	resolve(h, 0, old_dentry, m);
	note_alias(h);
	b = binding();
	if (!b)
		return 0;
	resolve(h, 1, new_dentry, m);
	return decide(h, b, BIT(PAL_OP_LINK), 2, PAL_HOOK_PATH_LINK, mech);
}

/* xattr hooks get a dentry without its mount: resolve against the namespace root mount, which
 * is exact for the root filesystem; elsewhere the path is relative to that filesystem's root. */
static __always_inline int do_xattr(struct dentry *dentry, __u8 hook, __u8 mech)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct super_block *sb = BPF_CORE_READ(dentry, d_sb);
	struct vfsmount *m = BPF_CORE_READ(t, fs, root.mnt);

	/* the mount is not passed: take the task's root or cwd mount when the file is on that
	 * filesystem (exact unless it is also bind-mounted elsewhere), else the namespace root,
	 * which yields a path relative to the file's filesystem */
	if (BPF_CORE_READ(m, mnt_sb) != sb) {
		m = BPF_CORE_READ(t, fs, pwd.mnt);
		if (BPF_CORE_READ(m, mnt_sb) != sb) {
			struct mount *root = BPF_CORE_READ(t, nsproxy, mnt_ns, root);

			m = &root->mnt;
		}
	}
	return check1(BIT(PAL_OP_SETXATTR), dentry, m, hook, mech);
}

/* Runtime setup processes (runc init between an OCI createRuntime hook and the entrypoint's
 * exec) may still bind-mount (masked and read-only paths): tgid -> 1, set by the agent, cleared
 * at the process's first exec attempt, so the workload itself never holds the exemption. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} pal_setup_tasks SEC(".maps");

static __always_inline int do_exec(struct linux_binprm *bprm, __u8 mech)
{
	struct file *f = BPF_CORE_READ(bprm, file);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&pal_setup_tasks, &tgid);

	return check1(BIT(PAL_OP_EXEC), BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt),
		      PAL_HOOK_BPRM_CHECK, mech);
}

static __always_inline int do_mmap(struct file *file, unsigned long prot, __u8 hook, __u8 mech)
{
	if (!file || !(prot & PROT_EXEC))
		return 0;
	return check1(BIT(PAL_OP_MMAP_EXEC), BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
		      hook, mech);
}

static __always_inline int do_file_truncate(struct file *file, __u8 mech)
{
	return check1(BIT(PAL_OP_TRUNCATE), BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
		      PAL_HOOK_FILE_TRUNCATE, mech);
}

/*
 * One macro per hook shape emits the lsm/ and the fmod_ret/ program.  `ret` is the verdict of
 * whatever ran before us: never turn an earlier denial into a success.
 */
/* An earlier denial (another BPF program on the same hook) stays a denial.  It is reported as
 * -EPERM because the verifier requires LSM programs to return a provable value in [-4095, 0]. */
static __always_inline int earlier(int ret)
{
	return ret ? -EPERM : 0;
}

/* LSM programs must return a provable value in [-4095, 0]; clang likes to build a verdict as
 * -(cond & 1), and the verifier does not track ranges through a negation.  A sign shift it does
 * track, and it maps every verdict we produce (0, -EPERM) to itself. */
static __always_inline int lsm_ret(int v)
{
	barrier_var(v);
	return v >> 31;
}

#define LSM_M PAL_MECH_LSM
#define FMOD_M PAL_MECH_FMOD_RET

SEC("lsm/file_open")
int BPF_PROG(pal_lsm_file_open, struct file *file, int ret)
{
	return lsm_ret(earlier(ret) ?: do_file_open(file, LSM_M));
}
SEC("fmod_ret/security_file_open")
int BPF_PROG(pal_fmod_file_open, struct file *file, int ret)
{
	return earlier(ret) ?: do_file_open(file, FMOD_M);
}

#define DIR_HOOK(hook, fn, op, H, ...)                                                                  \
	SEC("lsm/" #hook)                                                                               \
	int BPF_PROG(pal_lsm_##hook, const struct path *dir, struct dentry *dentry, ##__VA_ARGS__, int ret) \
	{                                                                                               \
		return lsm_ret(earlier(ret) ?: do_dir_op(op, dir, dentry, H, LSM_M)); \
	}                                                                                               \
	SEC("fmod_ret/" #fn)                                                                            \
	int BPF_PROG(pal_fmod_##hook, const struct path *dir, struct dentry *dentry, ##__VA_ARGS__, int ret) \
	{                                                                                               \
		return earlier(ret) ?: do_dir_op(op, dir, dentry, H, FMOD_M);                               \
	}

DIR_HOOK(path_unlink, security_path_unlink, PAL_OP_UNLINK, PAL_HOOK_PATH_UNLINK)
DIR_HOOK(path_rmdir, security_path_rmdir, PAL_OP_RMDIR, PAL_HOOK_PATH_RMDIR)
DIR_HOOK(path_mkdir, security_path_mkdir, PAL_OP_MKDIR, PAL_HOOK_PATH_MKDIR, umode_t mode)
DIR_HOOK(path_mknod, security_path_mknod, PAL_OP_CREATE, PAL_HOOK_PATH_MKNOD, umode_t mode, unsigned int dev)
DIR_HOOK(path_symlink, security_path_symlink, PAL_OP_SYMLINK, PAL_HOOK_PATH_SYMLINK, const char *old_name)

#define PATH_HOOK(hook, fn, op, H, ...)                                                                  \
	SEC("lsm/" #hook)                                                                               \
	int BPF_PROG(pal_lsm_##hook, const struct path *path, ##__VA_ARGS__, int ret)                   \
	{                                                                                               \
		return lsm_ret(earlier(ret) ?: do_path_op(op, path, H, LSM_M)); \
	}                                                                                               \
	SEC("fmod_ret/" #fn)                                                                            \
	int BPF_PROG(pal_fmod_##hook, const struct path *path, ##__VA_ARGS__, int ret)                  \
	{                                                                                               \
		return earlier(ret) ?: do_path_op(op, path, H, FMOD_M);                                     \
	}

PATH_HOOK(path_truncate, security_path_truncate, PAL_OP_TRUNCATE, PAL_HOOK_PATH_TRUNCATE)
PATH_HOOK(path_chmod, security_path_chmod, PAL_OP_CHMOD, PAL_HOOK_PATH_CHMOD, umode_t mode)
PATH_HOOK(path_chown, security_path_chown, PAL_OP_CHOWN, PAL_HOOK_PATH_CHOWN, __u32 uid, __u32 gid)

SEC("lsm/file_truncate")
int BPF_PROG(pal_lsm_file_truncate, struct file *file, int ret)
{
	return lsm_ret(earlier(ret) ?: do_file_truncate(file, LSM_M));
}
SEC("fmod_ret/security_file_truncate")
int BPF_PROG(pal_fmod_file_truncate, struct file *file, int ret)
{
	return earlier(ret) ?: do_file_truncate(file, FMOD_M);
}

SEC("lsm/path_rename")
int BPF_PROG(pal_lsm_path_rename, const struct path *old_dir, struct dentry *old_dentry,
	     const struct path *new_dir, struct dentry *new_dentry, unsigned int flags, int ret)
{
	return lsm_ret(earlier(ret) ?: do_rename(old_dir, old_dentry, new_dir, new_dentry, LSM_M));
}
SEC("fmod_ret/security_path_rename")
int BPF_PROG(pal_fmod_path_rename, const struct path *old_dir, struct dentry *old_dentry,
	     const struct path *new_dir, struct dentry *new_dentry, unsigned int flags, int ret)
{
	return earlier(ret) ?: do_rename(old_dir, old_dentry, new_dir, new_dentry, FMOD_M);
}

SEC("lsm/path_link")
int BPF_PROG(pal_lsm_path_link, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, int ret)
{
	return lsm_ret(earlier(ret) ?: do_link(old_dentry, new_dir, new_dentry, LSM_M));
}
SEC("fmod_ret/security_path_link")
int BPF_PROG(pal_fmod_path_link, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, int ret)
{
	return earlier(ret) ?: do_link(old_dentry, new_dir, new_dentry, FMOD_M);
}

/* The first argument is a struct mnt_idmap * (6.3+) or struct user_namespace * (before):
 * unused, so declared as void *. */
SEC("lsm/inode_setxattr")
int BPF_PROG(pal_lsm_inode_setxattr, void *idmap, struct dentry *dentry, const char *name,
	     const void *value, size_t size, int flags, int ret)
{
	return lsm_ret(earlier(ret) ?: do_xattr(dentry, PAL_HOOK_INODE_SETXATTR, LSM_M));
}
SEC("fmod_ret/security_inode_setxattr")
int BPF_PROG(pal_fmod_inode_setxattr, void *idmap, struct dentry *dentry, const char *name,
	     const void *value, size_t size, int flags, int ret)
{
	return earlier(ret) ?: do_xattr(dentry, PAL_HOOK_INODE_SETXATTR, FMOD_M);
}
SEC("lsm/inode_removexattr")
int BPF_PROG(pal_lsm_inode_removexattr, void *idmap, struct dentry *dentry, const char *name, int ret)
{
	return lsm_ret(earlier(ret) ?: do_xattr(dentry, PAL_HOOK_INODE_REMOVEXATTR, LSM_M));
}
SEC("fmod_ret/security_inode_removexattr")
int BPF_PROG(pal_fmod_inode_removexattr, void *idmap, struct dentry *dentry, const char *name, int ret)
{
	return earlier(ret) ?: do_xattr(dentry, PAL_HOOK_INODE_REMOVEXATTR, FMOD_M);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(pal_lsm_bprm_check, struct linux_binprm *bprm, int ret)
{
	return lsm_ret(earlier(ret) ?: do_exec(bprm, LSM_M));
}
SEC("fmod_ret/security_bprm_check")
int BPF_PROG(pal_fmod_bprm_check, struct linux_binprm *bprm, int ret)
{
	return earlier(ret) ?: do_exec(bprm, FMOD_M);
}

/* The LSM hook has (file, reqprot, prot, flags); security_mmap_file has (file, prot, flags). */
SEC("lsm/mmap_file")
int BPF_PROG(pal_lsm_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags, int ret)
{
	return lsm_ret(earlier(ret) ?: do_mmap(file, prot, PAL_HOOK_MMAP_FILE, LSM_M));
}
SEC("fmod_ret/security_mmap_file")
int BPF_PROG(pal_fmod_mmap_file, struct file *file, unsigned long prot, unsigned long flags, int ret)
{
	return earlier(ret) ?: do_mmap(file, prot, PAL_HOOK_MMAP_FILE, FMOD_M);
}

SEC("lsm/file_mprotect")
int BPF_PROG(pal_lsm_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot,
	     int ret)
{
	return lsm_ret(earlier(ret) ?: do_mmap(BPF_CORE_READ(vma, vm_file), prot, PAL_HOOK_FILE_MPROTECT, LSM_M));
}
SEC("fmod_ret/security_file_mprotect")
int BPF_PROG(pal_fmod_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot,
	     int ret)
{
	return earlier(ret) ?: do_mmap(BPF_CORE_READ(vma, vm_file), prot, PAL_HOOK_FILE_MPROTECT, FMOD_M);
}

/* Writes through an fd opened earlier (before the policy, inherited, or received). */
#define MAY_WRITE 0x2
SEC("lsm/file_permission")
int BPF_PROG(pal_lsm_file_permission, struct file *file, int mask, int ret)
{
	if (ret)
		return -EPERM;
	if (!(mask & MAY_WRITE))
		return 0;
	return lsm_ret(check1(BIT(PAL_OP_WRITE), BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			      PAL_HOOK_FILE_PERMISSION, LSM_M));
}
SEC("fmod_ret/security_file_permission")
int BPF_PROG(pal_fmod_file_permission, struct file *file, int mask, int ret)
{
	if (ret)
		return -EPERM;
	if (!(mask & MAY_WRITE))
		return 0;
	return check1(BIT(PAL_OP_WRITE), BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
		      PAL_HOOK_FILE_PERMISSION, FMOD_M);
}

/*
 * Bind and move mounts inside a protected cgroup would give protected files paths the rules do
 * not name (and path rules cannot follow every alias), so they are refused whenever a bound
 * policy can deny anything.  Workloads under a file policy have no business remounting.
 */
#define MS_BIND 4096
#define MS_MOVE 8192
static __always_inline int do_sb_mount(const struct path *path, unsigned long flags, __u8 mech)
{
	struct pal_binding *b = binding();
	struct pal_enf_heap *h;
	__u32 deny_set = 0;
	int found = 0;

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!b || !(flags & (MS_BIND | MS_MOVE)) || bpf_map_lookup_elem(&pal_setup_tasks, &tgid) || !(h = begin()))
		return 0;
	for (int i = 0; i < PAL_ENF_SETS; i++) {
		if (i >= b->nsets)
			break;
		__u32 set = b->sets[i];
		struct pal_set_cfg *cfg = bpf_map_lookup_elem(&pal_sets, &set);

		if (cfg && cfg->deny_ops) {
			deny_set = set;
			found = 1;
			break;
		}
	}
	if (!found)
		return 0;
	resolve(h, 0, BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt));

	struct pal_decision *r = &h->rec;
	int audit = b->mode == PAL_BIND_AUDIT;

	r->flags = PAL_DF_MOUNT_GUARD | (audit ? PAL_DF_AUDIT_MODE : 0);
	r->set_id = deny_set;
	r->rule = PAL_RULE_NONE;
	r->action = audit ? PAL_ACT_AUDIT : PAL_ACT_DENY;
	r->op = PAL_OP_MOUNT;
	r->hook = PAL_HOOK_SB_MOUNT;
	r->mechanism = mech;
	r->family = 0;
	r->port = 0;
	r->err = audit ? 0 : -EPERM;
	r->prevented = !audit;
	copy_rec_path(r->path, h->path[0], h->len[0], &r->path_len, &r->flags, PAL_DF_REC_PATH_CUT);
	r->path2[0] = 0;
	r->path2_len = 0;
	emit(r);
	return audit ? 0 : -EPERM;
}

SEC("lsm/sb_mount")
int BPF_PROG(pal_lsm_sb_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data, int ret)
{
	return lsm_ret(earlier(ret) ?: do_sb_mount(path, flags, LSM_M));
}
SEC("fmod_ret/security_sb_mount")
int BPF_PROG(pal_fmod_sb_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data, int ret)
{
	return earlier(ret) ?: do_sb_mount(path, flags, FMOD_M);
}

/* ---- last resort: syscall tracepoints + SIGKILL ------------------------------------------
 *
 * Where neither BPF LSM nor fmod_ret loads, these see the syscall's *user* arguments before the
 * kernel acts on them and kill a caller whose operation a policy denies.  The operation itself
 * still happens (the signal lands after the syscall), every record says prevented=false, and the
 * loader reports the mechanism loudly.  Paths are the strings the caller passed, made absolute
 * with the cwd or the dirfd's path but not normalised ("..", symlinks); io_uring is not seen.
 */
#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200
#define O_ACCMODE 3
#define O_CREAT 0100

/* The directory a relative path starts from: the cwd or the file behind dirfd. */
static __always_inline struct path *dir_of(struct task_struct *t, long dfd, struct path *tmp)
{
	if (dfd == AT_FDCWD) {
		*tmp = BPF_CORE_READ(t, fs, pwd);
		return tmp;
	}
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(t, files, fdt, max_fds);
	struct file *f = NULL;

	if (dfd < 0 || dfd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[dfd]);
	if (!f)
		return NULL;
	*tmp = BPF_CORE_READ(f, f_path);
	return tmp;
}

/* h->path[slot] = the user path `up`, made absolute against dfd. */
static __always_inline void user_path(struct pal_enf_heap *h, int slot, long dfd, const char *up)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 off = 0;
	char first = 0;

	slot &= 1;
	h->rev_built[slot] = 0;
	h->ino[slot] = 0;
	h->nlink[slot] = 0;
	h->trunc[slot] = 1;
	h->len[slot] = 0;
	if (bpf_probe_read_user(&first, 1, up))
		return;
	if (first != '/') {
		struct path tmp, *dir = dir_of(t, dfd, &tmp);
		struct pal_walked w = {};
		struct pal_path_scratch *s;

		if (!dir)
			return;
		s = pal_walk_path(BPF_CORE_READ(dir, dentry), BPF_CORE_READ(dir, mnt), &w);
		if (!s || w.truncated)
			return;
		off = w.len & (PAL_PATH_MAX - 1);
		bpf_probe_read_kernel(h->path[slot], off, &s->buf[w.off & (PAL_PATH_MAX - 1)]);
		if (off > 1) {	/* not the root */
			h->path[slot][off & (PAL_PATH_MAX - 1)] = '/';
			off++;
		} else {
			off = 1;
		}
	}
	off &= PAL_PATH_MAX - 1;
	long n = bpf_probe_read_user_str(&h->path[slot][off], PAL_PATH_MAX - off, up);

	if (n <= 0 || off + n >= PAL_PATH_MAX)
		return;
	h->len[slot] = (off + n - 1) & (PAL_PATH_MAX - 1);
	h->trunc[slot] = 0;
	key_fwd(&h->kf[slot], h->path[slot], h->len[slot]);
}

static __always_inline int tp_check(__u32 ops, long dfd0, const char *p0, long dfd1, const char *p1,
				    int npaths, __u8 hook)
{
	struct pal_binding *b = binding();
	struct pal_enf_heap *h;

	if (!b || !(h = begin()))
		return 0;
	user_path(h, 0, dfd0, p0);
	if (npaths > 1)
		user_path(h, 1, dfd1, p1);
	decide(h, b, ops, npaths, hook, PAL_MECH_TRACEPOINT);
	return 0;
}

#define TP_ARG(i) ((long)ctx->args[i])
/* int arguments (dirfds) arrive zero-extended in the 64-bit slot: AT_FDCWD is 0xffffff9c */
#define TP_DFD(i) ((long)(int)ctx->args[i])
#define TP_STR(i) ((const char *)ctx->args[i])
#define TP_PROG(name, body)                                                   \
	SEC("tp/syscalls/sys_enter_" #name)                                   \
	int pal_tp_##name(struct trace_event_raw_sys_enter *ctx)              \
	{                                                                     \
		body;                                                         \
	}

static __always_inline __u32 open_ops(long flags)
{
	__u32 ops = 0;

	if ((flags & O_ACCMODE) != 0)
		ops |= BIT(PAL_OP_WRITE);
	if (flags & O_TRUNC)
		ops |= BIT(PAL_OP_TRUNCATE);
	if (flags & O_CREAT)
		ops |= BIT(PAL_OP_CREATE);
	return ops;
}

TP_PROG(unlinkat, return tp_check(TP_ARG(2) & AT_REMOVEDIR ? BIT(PAL_OP_RMDIR) : BIT(PAL_OP_UNLINK),
				  TP_DFD(0), TP_STR(1), 0, 0, 1, PAL_HOOK_SYS_UNLINKAT))
TP_PROG(unlink, return tp_check(BIT(PAL_OP_UNLINK), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_UNLINKAT))
TP_PROG(rmdir, return tp_check(BIT(PAL_OP_RMDIR), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_UNLINKAT))
TP_PROG(mkdirat, return tp_check(BIT(PAL_OP_MKDIR), TP_DFD(0), TP_STR(1), 0, 0, 1, PAL_HOOK_SYS_MKDIRAT))
TP_PROG(mkdir, return tp_check(BIT(PAL_OP_MKDIR), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_MKDIRAT))
TP_PROG(renameat2, return tp_check(BIT(PAL_OP_RENAME), TP_DFD(0), TP_STR(1), TP_DFD(2), TP_STR(3), 2,
				   PAL_HOOK_SYS_RENAMEAT))
TP_PROG(renameat, return tp_check(BIT(PAL_OP_RENAME), TP_DFD(0), TP_STR(1), TP_DFD(2), TP_STR(3), 2,
				  PAL_HOOK_SYS_RENAMEAT))
TP_PROG(rename, return tp_check(BIT(PAL_OP_RENAME), AT_FDCWD, TP_STR(0), AT_FDCWD, TP_STR(1), 2,
				PAL_HOOK_SYS_RENAMEAT))
TP_PROG(linkat, return tp_check(BIT(PAL_OP_LINK), TP_DFD(0), TP_STR(1), TP_DFD(2), TP_STR(3), 2,
				PAL_HOOK_SYS_LINKAT))
TP_PROG(link, return tp_check(BIT(PAL_OP_LINK), AT_FDCWD, TP_STR(0), AT_FDCWD, TP_STR(1), 2,
			      PAL_HOOK_SYS_LINKAT))
TP_PROG(openat, return tp_check(open_ops(TP_ARG(2)), TP_DFD(0), TP_STR(1), 0, 0, 1, PAL_HOOK_SYS_OPENAT))
TP_PROG(open, return tp_check(open_ops(TP_ARG(1)), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_OPENAT))
TP_PROG(truncate, return tp_check(BIT(PAL_OP_TRUNCATE), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_TRUNCATE))
TP_PROG(fchmodat, return tp_check(BIT(PAL_OP_CHMOD), TP_DFD(0), TP_STR(1), 0, 0, 1, PAL_HOOK_SYS_FCHMODAT))
TP_PROG(chmod, return tp_check(BIT(PAL_OP_CHMOD), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_FCHMODAT))
TP_PROG(fchownat, return tp_check(BIT(PAL_OP_CHOWN), TP_DFD(0), TP_STR(1), 0, 0, 1, PAL_HOOK_SYS_FCHOWNAT))
TP_PROG(chown, return tp_check(BIT(PAL_OP_CHOWN), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_FCHOWNAT))
TP_PROG(execve, return tp_check(BIT(PAL_OP_EXEC), AT_FDCWD, TP_STR(0), 0, 0, 1, PAL_HOOK_SYS_EXECVE))

/* ---- cgroup inheritance ------------------------------------------------------------ */

/* A new cgroup2 directory under a bound one is bound the same way before mkdir returns, so a
 * workload cannot step out of its policy by creating a child cgroup and moving into it. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(pal_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	/* hierarchy 0 is the default (v2) hierarchy; v1 hierarchies have their own id spaces */
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	__u64 parent = BPF_CORE_READ(cgrp, self.parent, cgroup, kn, id);
	struct pal_binding *pb = bpf_map_lookup_elem(&pal_bindings, &parent);

	if (!pb)
		return 0;
	struct pal_binding b = *pb;

	if (!b.root)
		b.root = parent;
	bpf_map_update_elem(&pal_bindings, &id, &b, BPF_ANY);
	return 0;
}

/* ---- network: cgroup sock_addr programs (inline, no trampolines) ------------------------ */

static __always_inline int net_decide(struct bpf_sock_addr *ctx, __u8 family, __u8 hook)
{
	struct pal_binding *b = binding();
	struct pal_enf_heap *h;

	if (!b)
		return 1;
	h = heap();
	if (!h)
		return 1;

	struct pal_net_key k = {};
	__u16 port = bpf_ntohs(ctx->user_port);
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	int best_action = PAL_ACT_NONE, best_rule = PAL_RULE_NONE, best_flags = 0;
	__u32 best_set = 0;

	k.family = family;
	if (family == 4) {
		__u32 a = ctx->user_ip4;

		__builtin_memcpy(k.addr, &a, 4);
		k.prefixlen = 32 + 8 + 32;
	} else {
		__u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1], a2 = ctx->user_ip6[2], a3 = ctx->user_ip6[3];

		__builtin_memcpy(k.addr, &a0, 4);
		__builtin_memcpy(k.addr + 4, &a1, 4);
		__builtin_memcpy(k.addr + 8, &a2, 4);
		__builtin_memcpy(k.addr + 12, &a3, 4);
		k.prefixlen = 32 + 8 + 128;
	}
	for (int i = 0; i < PAL_ENF_SETS; i++) {
		if (i >= b->nsets)
			break;
		__u32 set = b->sets[i];
		struct pal_set_cfg *cfg = bpf_map_lookup_elem(&pal_sets, &set);

		if (!cfg)
			continue;
		k.set = set;
		struct pal_net_val *v = bpf_map_lookup_elem(&pal_net, &k);
		int action = PAL_ACT_NONE, rule = PAL_RULE_NONE, flags = 0;

		if (v) {
			for (int j = 0; j < PAL_ENF_NET_CANDS; j++) {
				struct pal_net_cand c = v->cand[j];

				if (c.action == PAL_ACT_NONE)
					break;
				if (c.port && c.port != port)
					continue;
				if (c.cond & PAL_COND_UID) {
					struct pal_uid_key uk = { .set = set, .rule = c.rule, .uid = uid };

					if (!bpf_map_lookup_elem(&pal_rule_uids, &uk))
						continue;
				}
				action = c.action;
				rule = c.rule;
				break;
			}
		}
		if (action == PAL_ACT_NONE && cfg->default_action != PAL_ACT_NONE &&
		    (cfg->listed_ops & BIT(PAL_OP_CONNECT))) {
			action = cfg->default_action;
			flags = PAL_DF_DEFAULT;
		}
		if (cfg->audit && (action == PAL_ACT_DENY || action == PAL_ACT_KILL)) {
			action = PAL_ACT_AUDIT;
			flags |= PAL_DF_AUDIT_MODE;
		}
		if (strength(action) > strength(best_action)) {
			best_action = action;
			best_rule = rule;
			best_flags = flags;
			best_set = set;
		}
	}
	if (best_action == PAL_ACT_NONE || best_action == PAL_ACT_ALLOW)
		return 1;
	if (b->mode == PAL_BIND_AUDIT && best_action != PAL_ACT_AUDIT) {
		best_action = PAL_ACT_AUDIT;
		best_flags |= PAL_DF_AUDIT_MODE;
	}

	struct pal_decision *r = &h->rec;
	int allow = best_action == PAL_ACT_AUDIT;

	/* bpf_send_signal is not offered to cgroup programs: deny-and-kill denies here */
	r->flags = best_flags;
	r->set_id = best_set;
	r->rule = best_rule;
	r->action = best_action;
	r->op = PAL_OP_CONNECT;
	r->hook = hook;
	r->mechanism = PAL_MECH_CGROUP;
	r->prevented = !allow;
	r->err = allow ? 0 : -EPERM;
	r->family = family;
	r->port = port;
	__builtin_memcpy(r->addr, k.addr, 16);
	r->path[0] = 0;
	r->path2[0] = 0;
	r->path_len = 0;
	r->path2_len = 0;
	emit(r);
	return allow;
}

SEC("cgroup/connect4")
int pal_connect4(struct bpf_sock_addr *ctx)
{
	return net_decide(ctx, 4, PAL_HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int pal_connect6(struct bpf_sock_addr *ctx)
{
	return net_decide(ctx, 6, PAL_HOOK_CONNECT6);
}

SEC("cgroup/sendmsg4")
int pal_sendmsg4(struct bpf_sock_addr *ctx)
{
	return net_decide(ctx, 4, PAL_HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int pal_sendmsg6(struct bpf_sock_addr *ctx)
{
	return net_decide(ctx, 6, PAL_HOOK_SENDMSG6);
}
