/*
 * Policy (see policy.h): cap arithmetic against a guarded file and its
 * root's shared totals, cross-session checks, and the events they log.
 * Lock-free apart from what the caller holds; async-signal-safe except the
 * rescan at the boundary (nftw), which runs at most once a second a root.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "session.h"
#include "totals.h"

#define UG_RESCAN_MIN_NS 1000000000LL /* boundary rescans: once a second */
#define UG_OWNER_XATTR "user.uploadguard.owner"

enum ug_mode ug__mode_of(const struct ug_rootrt *rt) { return rt->mode; }

const char *ug__verdict(enum ug_mode m, bool allowed_all)
{
	if (m == UG_MODE_ABORT)
		return "aborted";
	return m == UG_MODE_DENY && !allowed_all ? "denied" : "logged";
}

/* ---- cross-session ---------------------------------------------------------
 */

/* True when the calling thread is bound to a session other than the one that
 * owns the file or opened this description. */
static bool cross_session(const struct ug_desc *d, const struct ug_binding **bp,
			  const char **owner)
{
	const struct ug_binding *b;

	*bp = NULL;
	*owner = NULL;
	if (!d->ino->owner[0] && !d->opener[0])
		return false; /* nobody's file: nothing to cross */
	b = ug__session_cur();
	*bp = b;
	if (!b)
		return false;
	if (d->ino->owner[0] &&
	    strcmp(d->ino->owner, ug__binding_digest(b)) != 0) {
		*owner = d->ino->owner;
		return true;
	}
	if (d->opener[0] && strcmp(d->opener, ug__binding_digest(b)) != 0) {
		*owner = d->opener;
		return true;
	}
	return false;
}

/* ---- admission -------------------------------------------------------------
 */

static void reserve_total(struct ug_rootrt *rt, int64_t growth,
			  struct ug_admit *a)
{
	struct ug_ctr *c = ug__bytes_ctr(rt);
	uint64_t cap = rt->cfg->max_total;
	int64_t got;

	if (!c) {
		a->reserved = growth; /* not counted: it all fits */
		return;
	}
	a->total_before = ug__ctr_get(c);
	got = ug__ctr_reserve(c, growth, cap);
	if (got < growth && ug__depth <= 1) { /* not from a signal handler */
		/* At the boundary: measure the subtree before saying no. */
		ug__ctr_done(c, got, 0);
		ug__totals_rescan(rt, UG_RESCAN_MIN_NS);
		got = ug__ctr_reserve(c, growth, cap);
	}
	a->reserved = got;
}

/* Reserves the growth on the session counter too (max_session). */
static int64_t reserve_session(struct ug_inode *ino, int64_t growth,
			       struct ug_admit *a)
{
	const struct ug_root *r = ino->root->cfg;

	a->sess_ctr = NULL;
	if (r->max_session == UG_UNLIMITED || !ino->owner[0])
		return growth;
	a->sess_ctr = ug__totals_session(ino->root->tot, ino->owner);
	if (!a->sess_ctr)
		return growth; /* table full: not counted (said in the README)
				*/
	a->sess_reserved = ug__ctr_reserve(a->sess_ctr, growth, r->max_session);
	return a->sess_reserved;
}

/* Trims (or, in log mode, grows) both reservations to `growth`. */
static void keep_reserved(struct ug_rootrt *rt, int64_t growth,
			  struct ug_admit *a)
{
	ug__ctr_resize(ug__bytes_ctr(rt), growth - a->reserved);
	a->reserved = growth;
	if (a->sess_ctr) {
		ug__ctr_resize(a->sess_ctr, growth - a->sess_reserved);
		a->sess_reserved = growth;
	}
}

uint64_t ug__admit(struct ug_desc *d, uint64_t pos, uint64_t n, int whole,
		   struct ug_admit *a)
{
	struct ug_inode *ino = d->ino;
	struct ug_rootrt *rt = ino->root;
	const struct ug_root *r = rt->cfg;
	uint64_t size = (uint64_t)atomic_load(&ino->size), allowed = n, f, t;
	int64_t growth, got_s;
	const struct ug_binding *b;
	const char *owner;

	*a = (struct ug_admit){
	    .want = n,
	    .size_before = (int64_t)size,
	    .total_before =
		ug__bytes_ctr(rt) ? ug__ctr_get(&rt->tot->bytes) : -1,
	    .mode = rt->mode};
	if (ug__st.sessions && (ino->owner[0] || d->opener[0]) &&
	    cross_session(d, &b, &owner)) {
		a->cross = true;
		a->mode = ug__st.cfg.cross;
		if (a->mode != UG_MODE_LOG) {
			a->allowed = 0;
			a->err = EACCES;
			return 0;
		}
	}
	if (r->max_file != UG_UNLIMITED) {
		f = ug__cap_file(pos, n, r->max_file);
		if (f < allowed) {
			allowed = f;
			a->rule = UG_RULE_MAX_FILE;
			a->limit = r->max_file;
		}
	}
	growth = (int64_t)ug__cap_growth(pos, allowed, size);
	if (growth > 0) {
		reserve_total(rt, growth, a);
		if (a->reserved < growth) {
			t = ug__cap_room(pos, allowed, size,
					 (uint64_t)a->reserved);
			if (t < allowed) {
				allowed = t;
				a->rule = UG_RULE_MAX_TOTAL;
				a->limit = r->max_total;
			}
		}
		got_s = reserve_session(ino, growth, a);
		if (got_s < growth) {
			t = ug__cap_room(pos, allowed, size, (uint64_t)got_s);
			if (t < allowed) {
				allowed = t;
				a->rule = UG_RULE_MAX_SESSION;
				a->limit = r->max_session;
			}
		}
	}
	if (likely(a->rule == UG_RULE_NONE)) {
		/* the common case: reserved exactly what the call grows */
		a->allowed = n;
		return n;
	}
	if (whole && allowed < n)
		allowed = 0;
	if (a->mode == UG_MODE_LOG) {
		/* log mode: the call goes through whole, counted whole */
		growth = (int64_t)ug__cap_growth(pos, n, size);
		if (!a->sess_ctr && growth > 0)
			reserve_session(ino, 0, a);
		keep_reserved(rt, growth, a);
		a->allowed = n;
		return n;
	}
	/* deny or abort: keep only what the allowed part needs */
	keep_reserved(rt, (int64_t)ug__cap_growth(pos, allowed, size), a);
	a->allowed = allowed;
	if (allowed == 0)
		a->err = ug__rule_errno(a->rule);
	return allowed;
}

void ug__commit(struct ug_desc *d, uint64_t pos, int64_t done,
		struct ug_admit *a)
{
	struct ug_inode *ino = d->ino;
	int64_t end, cur, grew = 0;

	if (done > 0) {
		end = (int64_t)(pos + (uint64_t)done);
		cur = atomic_load(&ino->size);
		while (end > cur &&
		       !atomic_compare_exchange_weak(&ino->size, &cur, end))
			;
		if (end > cur)
			grew = end - cur;
		d->written += (uint64_t)done;
	}
	ug__ctr_done(ug__bytes_ctr(ino->root), a->reserved, grew);
	ug__ctr_done(a->sess_ctr, a->sess_reserved, grew);
	a->reserved = a->sess_reserved = 0;
}

void ug__shrunk(struct ug_inode *ino, int64_t len)
{
	int64_t cur = atomic_load(&ino->size);

	while (len < cur &&
	       !atomic_compare_exchange_weak(&ino->size, &cur, len))
		;
	if (len < cur) {
		ug__totals_changed(ino->root);
		ug__ctr_add(ug__bytes_ctr(ino->root), len - cur);
		ug__session_release(ino->root, ino->owner, cur - len);
	}
}

/* ---- reporting
 * ---------------------------------------------------------------- Identical
 * violations (same event, rule, op, file) are limited to UG_RATE_BURST a
 * second; the rest are counted and the next logged one says how many it stands
 * for ("repeat").  Slots are claimed lock-free.
 */
#define UG_RATE_SLOTS 64
#define UG_RATE_BURST 20

struct rate_slot {
	_Atomic uint64_t key;
	_Atomic int64_t second;
	_Atomic uint32_t count;
	_Atomic uint64_t held;
};
static struct rate_slot rate[UG_RATE_SLOTS];

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h;
}

/* Returns true when the event may be logged; *repeat: occurrences it also
 * stands for. */
static bool rate_ok(uint64_t key, uint64_t *repeat)
{
	struct rate_slot *s = &rate[key % UG_RATE_SLOTS];
	int64_t now = ug__now_ns(CLOCK_MONOTONIC_COARSE) / 1000000000;

	*repeat = 0;
	if (atomic_load(&s->key) != key || atomic_load(&s->second) != now) {
		atomic_store(&s->key, key);
		atomic_store(&s->second, now);
		atomic_store(&s->count, 0);
	}
	if (atomic_fetch_add(&s->count, 1) >= UG_RATE_BURST) {
		atomic_fetch_add(&s->held, 1);
		return false;
	}
	*repeat = atomic_exchange(&s->held, 0);
	return true;
}

static void emit_event(struct ug_event *ev, struct ug_inode *ino)
{
	uint64_t key = 0, repeat;
	const char *p;

	key = mix(key, (uintptr_t)ev->event);
	key = mix(key, ev->rule);
	key = mix(key, (uintptr_t)ev->op);
	key = mix(key, ino ? ino->ino : 0);
	for (p = ev->path; p && *p; p++)
		key = mix(key, (unsigned char)*p);
	if (!rate_ok(key | 1, &repeat))
		return;
	ev->repeat = repeat;
	ug__log_event(ev);
}

/* Fills what every violation event says; false when a says nothing was
 * violated. */
static bool violation(struct ug_event *ev, const struct ug_admit *a,
		      const struct ug_rootrt *rt, const char *op,
		      const char *path, int64_t ret, int err)
{
	const struct ug_binding *b;

	if (a->rule == UG_RULE_NONE && !a->cross)
		return false;
	b = ug__session_cur();
	memset(ev, 0, sizeof(*ev));
	ev->event = a->cross ? "cross_session" : "cap_exceeded";
	ev->rule = a->cross ? UG_RULE_NONE : a->rule;
	ev->verdict = ug__verdict(a->mode, !a->err && a->allowed == a->want);
	ev->op = op;
	ev->path = path;
	ev->fd = -1;
	ev->offset = -1;
	ev->requested = a->want;
	ev->allowed = a->allowed;
	ev->ret = ret;
	ev->err = ret < 0 ? err : 0;
	ev->limit = a->limit;
	ev->size_before = a->size_before;
	ev->size_after = -1;
	ev->total_before = a->total_before;
	ev->total_after = ug__bytes_ctr((struct ug_rootrt *)rt)
			      ? ug__ctr_get(&rt->tot->bytes)
			      : -1;
	ev->root = rt;
	if (b) {
		ev->session = ug__binding_digest(b);
		ev->binding = b->source;
	}
	ev->backtrace = true;
	return true;
}

/* Logs it, and in abort mode leaves the core dump. */
static void conclude(struct ug_event *ev, const struct ug_admit *a,
		     struct ug_inode *ino)
{
	emit_event(ev, ino);
	if (a->mode == UG_MODE_ABORT)
		abort();
}

/* At exit: identical events still held back by the rate limit get one
 * line each ("rate_limited", with the count), never silently dropped. */
void ug__policy_exit(void)
{
	struct ug_event ev;
	int i;

	for (i = 0; i < UG_RATE_SLOTS; i++) {
		uint64_t n = atomic_exchange(&rate[i].held, 0);

		if (!n)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.event = "rate_limited";
		ev.fd = -1;
		ev.offset = -1;
		ev.size_before = ev.size_after = -1;
		ev.total_before = ev.total_after = -1;
		ev.repeat = n - 1; /* 1 + repeat: the events it stands for */
		ug__log_event(&ev);
	}
}

void ug__report_slow(const struct ug_admit *a, struct ug_desc *d,
		     const char *op, int fd, int64_t offset, int64_t ret,
		     int err)
{
	struct ug_inode *ino = d->ino;
	struct ug_event ev;

	if (!violation(&ev, a, ino->root, op, ino->path, ret, err))
		return;
	ev.fd = fd;
	ev.offset = offset;
	ev.size_after = atomic_load(&ino->size);
	ev.dev = ino->dev;
	ev.ino = ino->ino;
	ev.owner = ino->owner[0] ? ino->owner : d->opener[0] ? d->opener : NULL;
	conclude(&ev, a, ino);
}

/* ---- open / close -----------------------------------------------------------
 */

void ug__policy_opened(struct ug_desc *d, const char *op)
{
	const struct ug_binding *b;

	if (!ug__st.sessions)
		return;
	b = ug__session_cur();
	if (b)
		memcpy(d->opener, ug__binding_digest(b), sizeof(d->opener));
}

/* The owner of a file: its path pattern, else its xattr, else (created)
 * the creating session, which is then written to the xattr. */
static void set_owner(struct ug_desc *d, int fd, bool created)
{
	struct ug_inode *ino = d->ino;
	const struct ug_root *r = ino->root->cfg;
	const struct ug_binding *b;
	const char *rel;
	ssize_t n;

	if (ino->owner[0])
		return;
	if (r->owner) {
		rel = ino->path + ino->root->reallen;
		if (*rel == '/')
			rel++;
		ug__session_owner_from_path(r->owner, rel, ino->owner);
		return;
	}
	n = fgetxattr(fd, UG_OWNER_XATTR, ino->owner, sizeof(ino->owner) - 1);
	if (n == 16) {
		ino->owner[16] = '\0';
		return;
	}
	ino->owner[0] = '\0';
	b = ug__session_cur();
	if (created && b) {
		memcpy(ino->owner, ug__binding_digest(b), sizeof(ino->owner));
		fsetxattr(fd, UG_OWNER_XATTR, ug__binding_digest(b), 16, 0);
	}
}

int ug__policy_open_check(struct ug_desc *d, int fd, int oflags, bool created,
			  const char *op)
{
	struct ug_inode *ino = d->ino;
	struct ug_rootrt *rt = ino->root;
	struct ug_admit a;
	int64_t size = atomic_load(&ino->size);

	if (ug__st.sessions) {
		UG_ERRNO_SAVE;
		set_owner(d, fd, created);
		UG_ERRNO_RESTORE;
		if (!created &&
		    ((oflags & O_TRUNC) || (oflags & O_ACCMODE) != O_RDONLY)) {
			const struct ug_binding *b;
			const char *owner;

			memset(&a, 0, sizeof(a));
			if (cross_session(d, &b, &owner)) {
				a.cross = true;
				a.mode = ug__st.cfg.cross;
				a.err = a.mode == UG_MODE_LOG ? 0 : EACCES;
				ug__report(&a, d, op, fd, -1, a.err ? -1 : fd,
					   a.err);
				if (a.err)
					return -EACCES;
			}
		}
	}
	if (created) {
		ug__totals_refresh(rt, UG_REFRESH_NS);
		memset(&a, 0, sizeof(a));
		a.want = 1;
		a.mode = rt->mode;
		a.size_before = size;
		a.total_before = ug__ctr_get(&rt->tot->files);
		/* the file exists already: a reservation that is done at once
		 */
		if (ug__ctr_reserve(&rt->tot->files, 1, rt->cfg->max_files) ||
		    (ug__totals_rescan(rt, UG_RESCAN_MIN_NS) &&
		     ug__ctr_reserve(&rt->tot->files, 1, rt->cfg->max_files))) {
			ug__ctr_done(&rt->tot->files, 1, 1);
		} else {
			a.rule = UG_RULE_MAX_FILES;
			a.limit = rt->cfg->max_files;
			if (a.mode == UG_MODE_LOG) {
				ug__ctr_add(&rt->tot->files, 1);
				a.allowed = 1;
				ug__report(&a, d, op, fd, -1, fd, 0);
			} else {
				a.err = EDQUOT;
				ug__report(&a, d, op, fd, -1, -1, EDQUOT);
				return -EDQUOT;
			}
		}
	}
	if ((oflags & O_TRUNC) && size > 0)
		ug__shrunk(ino, 0);
	return 0;
}

void ug__policy_closed(struct ug_desc *d)
{
	struct ug_inode *ino = d->ino;
	struct ug_event ev;

	if (!ino)
		return;
	if (ug__st.cfg.audit) {
		memset(&ev, 0, sizeof(ev));
		ev.event = "file_closed";
		ev.path = ino->path;
		ev.fd = -1;
		ev.offset = -1;
		ev.size_after = atomic_load(&ino->size);
		ev.size_before = -1;
		ev.total_before = -1;
		ev.total_after = ug__bytes_ctr(ino->root)
				     ? ug__ctr_get(ug__bytes_ctr(ino->root))
				     : -1;
		ev.root = ino->root;
		ev.dev = ino->dev;
		ev.ino = ino->ino;
		ev.owner = ino->owner[0] ? ino->owner : NULL;
		ev.written = d->written;
		ug__log_event(&ev);
	}
	/* An O_TMPFILE (or unlinked) file never linked: its bytes are gone
	 * when its last reference closes, unless a scan since it went has
	 * already left them out. */
	if (ino->tmpfile && ino->refs == 1 &&
	    atomic_load(&ino->root->tot->scans) == ino->scan_mark) {
		int64_t size = atomic_exchange(&ino->size, 0);

		ug__ctr_add(ug__bytes_ctr(ino->root), -size);
		ug__session_release(ino->root, ino->owner, size);
	}
}

/* ---- name operations --------------------------------------------------------
 */

bool ug__owner_of_path(struct ug_rootrt *rt, const char *abs, char out[17])
{
	const char *rel;
	ssize_t n;
	UG_ERRNO_SAVE;

	out[0] = '\0';
	if (rt->cfg->owner) {
		rel = abs + rt->reallen;
		if (*rel == '/')
			rel++;
		return ug__session_owner_from_path(rt->cfg->owner, rel, out);
	}
	n = lgetxattr(abs, UG_OWNER_XATTR, out, 16);
	UG_ERRNO_RESTORE;
	if (n != 16) {
		out[0] = '\0';
		return false;
	}
	out[16] = '\0';
	return true;
}

bool ug__name_admit(struct ug_rootrt *rt, int64_t bytes, int64_t files,
		    int64_t dst_bytes, int64_t dst_files, const char *owner,
		    const char *src_owner, struct ug_admit *a)
{
	const struct ug_root *r = rt->cfg;
	const struct ug_binding *b = ug__session_active();
	int64_t nb = bytes - dst_bytes, nf = files - dst_files;
	struct ug_ctr *fc = &rt->tot->files;

	memset(a, 0, sizeof(*a));
	a->want = (uint64_t)bytes;
	a->allowed = (uint64_t)bytes;
	a->mode = rt->mode;
	a->size_before = -1;
	a->total_before =
	    ug__bytes_ctr(rt) ? ug__ctr_get(ug__bytes_ctr(rt)) : -1;
	if (b && owner && owner[0] &&
	    strcmp(owner, ug__binding_digest(b)) != 0) {
		a->cross = true;
		a->mode = ug__st.cfg.cross;
		if (a->mode != UG_MODE_LOG) {
			a->allowed = 0;
			a->err = EACCES;
			return false;
		}
	}
	if (r->max_file != UG_UNLIMITED && (uint64_t)bytes > r->max_file) {
		a->rule = UG_RULE_MAX_FILE;
		a->limit = r->max_file;
	}
	if (!a->rule && nf > 0) {
		a->held_files = ug__ctr_reserve(fc, nf, r->max_files);
		if (a->held_files < nf) {
			ug__ctr_done(fc, a->held_files, 0);
			ug__totals_rescan(rt, UG_RESCAN_MIN_NS);
			a->held_files = ug__ctr_reserve(fc, nf, r->max_files);
		}
		if (a->held_files < nf) {
			a->rule = UG_RULE_MAX_FILES;
			a->limit = r->max_files;
		}
	}
	if (!a->rule && nb > 0) {
		reserve_total(rt, nb, a);
		if (a->reserved < nb) {
			a->rule = UG_RULE_MAX_TOTAL;
			a->limit = r->max_total;
		}
	}
	if (r->max_session != UG_UNLIMITED && src_owner && src_owner[0])
		a->sess_ctr = ug__totals_session(rt->tot, src_owner);
	if (!a->rule && a->sess_ctr && bytes > 0) {
		a->sess_reserved =
		    ug__ctr_reserve(a->sess_ctr, bytes, r->max_session);
		if (a->sess_reserved < bytes) {
			a->rule = UG_RULE_MAX_SESSION;
			a->limit = r->max_session;
		}
	}
	if (a->rule && a->mode != UG_MODE_LOG) {
		ug__name_undo(rt, a); /* nothing stays held */
		a->allowed = 0;
		a->err = ug__rule_errno(a->rule);
		return false;
	}
	/* going ahead (or log mode): hold the whole change until it is done */
	ug__ctr_resize(ug__bytes_ctr(rt), nb - a->reserved);
	ug__ctr_resize(fc, nf - a->held_files);
	ug__ctr_resize(a->sess_ctr, bytes - a->sess_reserved);
	a->reserved = nb;
	a->held_files = nf;
	a->sess_reserved = a->sess_ctr ? bytes : 0;
	return true;
}

static void name_finish(struct ug_rootrt *rt, struct ug_admit *a, bool done)
{
	ug__ctr_done(ug__bytes_ctr(rt), a->reserved, done ? a->reserved : 0);
	ug__ctr_done(&rt->tot->files, a->held_files, done ? a->held_files : 0);
	ug__ctr_done(a->sess_ctr, a->sess_reserved,
		     done ? a->sess_reserved : 0);
	a->reserved = a->held_files = a->sess_reserved = 0;
}

void ug__name_undo(struct ug_rootrt *rt, struct ug_admit *a)
{
	name_finish(rt, a, false);
}

void ug__name_done(struct ug_rootrt *rt, struct ug_admit *a)
{
	name_finish(rt, a, true);
}

void ug__session_release(struct ug_rootrt *rt, const char *owner, int64_t bytes)
{
	if (rt->cfg->max_session != UG_UNLIMITED && owner && owner[0])
		ug__ctr_add(ug__totals_session(rt->tot, owner), -bytes);
}

void ug__name_report(const struct ug_admit *a, struct ug_rootrt *rt,
		     const char *op, const char *path, const struct stat *st,
		     const char *owner, int64_t ret, int err)
{
	struct ug_event ev;

	if (!violation(&ev, a, rt, op, path, ret, err))
		return;
	ev.size_before = st ? st->st_size : -1;
	if (st) {
		ev.dev = st->st_dev;
		ev.ino = st->st_ino;
	}
	ev.owner = owner && owner[0] ? owner : NULL;
	conclude(&ev, a, NULL);
}
