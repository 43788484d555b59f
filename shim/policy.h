/*
 * Policy: what a guarded operation may do, and what is logged.  Called by
 * the hooks with the desc pinned and, for data operations, d->lock held.
 * Lock-free on the shared totals; async-signal-safe except where noted.
 */
#ifndef UG_POLICY_H
#define UG_POLICY_H

#include "caps.h"
#include "event.h"
#include "guard.h"
#include "totals.h"

/* The outcome of admitting a growth [pos, pos+n) of a guarded file. */
struct ug_admit {
	uint64_t want;	   /* bytes asked for */
	uint64_t allowed;  /* bytes the real call may do */
	enum ug_rule rule; /* the cap that bound it, or NONE */
	uint64_t limit;
	int err;		 /* errno for a refused call (allowed == 0) */
	enum ug_mode mode;	 /* what the violation does */
	int64_t reserved;	 /* bytes reserved in the root total */
	int64_t held_files;	 /* files reserved (name operations) */
	struct ug_ctr *sess_ctr; /* the owner's session bytes, or NULL */
	int64_t sess_reserved;
	int64_t size_before, total_before;
	bool cross; /* cross-session write (sessions) */
};

enum { UG_ADMIT_PARTIAL = 0, UG_ADMIT_WHOLE = 1 };

/* Decides a write-like growth.  whole: all or nothing (truncate,
 * fallocate).  Returns a.allowed. */
uint64_t ug__admit(struct ug_desc *d, uint64_t pos, uint64_t n, int whole,
		   struct ug_admit *a);
/* Settles after the real call: done = bytes done (or < 0 for a failure);
 * new_end: the file's end after the call as far as this op knows (-1 to
 * derive it from pos + done). */
void ug__commit(struct ug_desc *d, uint64_t pos, int64_t done,
		struct ug_admit *a);
/* Shrink: a truncate to len (smaller than the size) gives bytes back. */
void ug__shrunk(struct ug_inode *ino, int64_t len);

/* Logs the violation described by a (if any) and aborts in abort mode.
 * ret/err: what the caller sees. */
void ug__report_slow(const struct ug_admit *a, struct ug_desc *d,
		     const char *op, int fd, int64_t offset, int64_t ret,
		     int err);
static inline void ug__report(const struct ug_admit *a, struct ug_desc *d,
			      const char *op, int fd, int64_t offset,
			      int64_t ret, int err)
{
	if (unlikely(a->rule != UG_RULE_NONE || a->cross))
		ug__report_slow(a, d, op, fd, offset, ret, err);
}

/* Called under ug__lock when a desc is made / its last fd is gone. */
void ug__policy_opened(struct ug_desc *d, const char *op);
void ug__policy_closed(struct ug_desc *d);
/* At open: max_files for a created file, cross-session O_TRUNC.  0 or
 * -errno (the hook undoes the open). */
int ug__policy_open_check(struct ug_desc *d, int fd, int oflags, bool created,
			  const char *op);

enum ug_mode ug__mode_of(const struct ug_rootrt *rt);
void ug__policy_exit(void); /* destructor: flush rate-limited counts */

/* The root's byte counter, or NULL when no max_total needs one: writes
 * into such a root touch no shared memory. */
static inline struct ug_ctr *ug__bytes_ctr(struct ug_rootrt *rt)
{
	return rt->cfg->max_total != UG_UNLIMITED ? &rt->tot->bytes : NULL;
}
const char *ug__verdict(enum ug_mode m, bool allowed_all);

/* fd table internals shared with the hooks */
int ug__fd_table_init(void);
void ug__fd_atfork_child(void);
int64_t ug__desc_pos(struct ug_desc *d, int fd);
struct ug_inode *ug__inode_find(dev_t dev, ino_t ino); /* under ug__lock */
void ug__net_closed(int fd, uintptr_t e);

#endif /* UG_POLICY_H */

/* ---- name operations (rename, link, unlink) -------------------------------
 */

/* Admits `bytes` and `files` arriving in rt (replacing dst_bytes/dst_files
 * already there).  Returns true when the operation may go ahead; a->err
 * says why not.  owner: the digest owning the destination name (cross-
 * session check), src_owner: the session the arriving bytes count for
 * (max_session); either may be NULL. */
bool ug__name_admit(struct ug_rootrt *rt, int64_t bytes, int64_t files,
		    int64_t dst_bytes, int64_t dst_files, const char *owner,
		    const char *src_owner, struct ug_admit *a);
/* A file of `owner` left rt (unlink, moved out): its session's bytes. */
void ug__session_release(struct ug_rootrt *rt, const char *owner,
			 int64_t bytes);
/* Ends a name admission's reservations: the real call failed (undo) or
 * succeeded (done). */
void ug__name_undo(struct ug_rootrt *rt, struct ug_admit *a);
void ug__name_done(struct ug_rootrt *rt, struct ug_admit *a);
void ug__name_report(const struct ug_admit *a, struct ug_rootrt *rt,
		     const char *op, const char *path, const struct stat *st,
		     const char *owner, int64_t ret, int err);
/* The owner digest of a guarded path (pattern or xattr) into out[17];
 * false when it has none. */
bool ug__owner_of_path(struct ug_rootrt *rt, const char *abs, char out[17]);
