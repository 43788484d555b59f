/*
 * Shared per-root totals (bytes and files in a guarded subtree), kept in a
 * small /dev/shm segment that every guarded process on the host maps.
 * Updated with lock-free atomics (async-signal-safe); a rescan of the
 * subtree, serialised across processes with flock, runs before any deny so
 * the decision at the boundary is exact.
 */
#ifndef UG_TOTALS_H
#define UG_TOTALS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define UG_TOTALS_MAGIC 0x55475431u /* "UGT1" */
#define UG_TOTALS_VERSION 1

/* A shared counter.  `val` is what the subtree holds as far as we know,
 * including reservations of calls still in flight; `pending` is the sum of
 * those reservations, so that a rescan, which only sees the disk, keeps
 * them (dropping one would let the subtree pass its cap). */
struct ug_ctr {
	_Atomic int64_t val;
	_Atomic int64_t pending;
};

/* Per-session bytes in the subtree (max_session): an open-addressing
 * table keyed by the session digest, slots claimed with a CAS. */
#define UG_SESS_SLOTS 1024

struct ug_sess_slot {
	_Atomic uint64_t key; /* digest as a number; 0: free */
	struct ug_ctr bytes;
};

struct ug_totals {
	uint32_t magic; /* written last by the creator */
	uint32_t version;
	uint64_t size;	   /* sizeof(struct ug_totals) */
	uint64_t dev, ino; /* of the root directory when created */
	char root[512];	   /* its path, for tools that clean up */
	struct ug_ctr bytes;
	struct ug_ctr files;
	_Atomic int64_t scanned_ns; /* CLOCK_BOOTTIME of the last scan */
	_Atomic uint64_t scans;
	_Atomic uint64_t changes; /* names moved, removed, files shrunk */
	struct ug_sess_slot sess[UG_SESS_SLOTS];
};

struct ug_rootrt;

/* Whether the root has a cap that needs shared totals (max_total,
 * max_files, max_session); the others have no segment at all. */
bool ug__totals_counted(const struct ug_rootrt *rt);

/* Maps (creating and scanning if needed) the root's segment, or falls back
 * to process-private totals with a message in err.  Constructor only. */
int ug__totals_attach(struct ug_rootrt *rt, char *err, size_t errlen);

/* Reserves up to want under cap for a call in flight; returns what it got
 * (0 for want <= 0; all of it for a NULL counter).  Every reservation ends
 * with ug__ctr_done.  The other calls take NULL as "not counted". */
int64_t ug__ctr_reserve(struct ug_ctr *c, int64_t want, uint64_t cap);
/* Grows or trims a reservation in flight by delta (no cap). */
void ug__ctr_resize(struct ug_ctr *c, int64_t delta);
/* The call is over: the `held` it reserved became `used`. */
void ug__ctr_done(struct ug_ctr *c, int64_t held, int64_t used);
/* A change nobody reserved: a delete, a shrink, a resync. */
void ug__ctr_add(struct ug_ctr *c, int64_t delta);
static inline int64_t ug__ctr_get(struct ug_ctr *c)
{
	return atomic_load_explicit(&c->val, memory_order_relaxed);
}
/* The bytes counter of session `digest` (16 hex digits) in t, claiming a
 * slot for a new one; NULL for no digest or a full table. */
struct ug_ctr *ug__totals_session(struct ug_totals *t, const char *digest);

/* Re-measures the subtree if the last scan is older than min_age_ns; true
 * when a scan ran (by us or by another process meanwhile). */
bool ug__totals_rescan(struct ug_rootrt *rt, int64_t min_age_ns);
/* A name under rt was removed or moved, or a file shrank: a scan running
 * meanwhile may have missed it, so that scan only raises the counters. */
void ug__totals_changed(struct ug_rootrt *rt);

/* The same without waiting: skipped when another process is scanning.
 * Keeps totals honest about files that unguarded programs add. */
void ug__totals_refresh(struct ug_rootrt *rt, int64_t min_age_ns);

#define UG_REFRESH_NS (30 * 1000000000LL) /* files added behind our back */

int64_t ug__now_ns(int clock);

/* Sums the regular files below path (hard links once).  0 or -errno. */
int ug__measure_tree(const char *path, int64_t *bytes, int64_t *files);

#endif /* UG_TOTALS_H */
