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

/* Per-session bytes in the subtree (max_session): an open-addressing
 * table keyed by the session digest, slots claimed with a CAS. */
#define UG_SESS_SLOTS 1024

struct ug_sess_slot {
	_Atomic uint64_t key; /* digest as a number; 0: free */
	_Atomic int64_t bytes;
};

struct ug_totals {
	uint32_t magic;       /* written last by the creator */
	uint32_t version;
	uint64_t size;        /* sizeof(struct ug_totals) */
	uint64_t dev, ino;    /* of the root directory when created */
	char root[512];       /* its path, for tools that clean up */
	_Atomic int64_t bytes;
	_Atomic int64_t files;
	_Atomic int64_t scanned_ns; /* CLOCK_BOOTTIME of the last scan */
	_Atomic uint64_t scans;
	struct ug_sess_slot sess[UG_SESS_SLOTS];
};

struct ug_rootrt;

/* Maps (creating and scanning if needed) the root's segment, or falls back
 * to process-private totals with a message in err.  Constructor only. */
int ug__totals_attach(struct ug_rootrt *rt, char *err, size_t errlen);

/* Reserves up to want bytes (or files) under cap; returns what it got. */
int64_t ug__totals_reserve(_Atomic int64_t *ctr, int64_t want, uint64_t cap);
/* The bytes counter of session `digest` (16 hex digits) in t, claiming a
 * slot for a new one; NULL for no digest or a full table. */
_Atomic int64_t *ug__totals_session(struct ug_totals *t, const char *digest);

/* Adds delta (may be negative) to a counter. */
void ug__totals_add(_Atomic int64_t *ctr, int64_t delta);

/* Re-measures the subtree if the last scan is older than min_age_ns; true
 * when a scan ran (by us or by another process meanwhile). */
bool ug__totals_rescan(struct ug_rootrt *rt, int64_t min_age_ns);
/* The same without waiting: skipped when another process is scanning.
 * Keeps totals honest about files that unguarded programs add. */
void ug__totals_refresh(struct ug_rootrt *rt, int64_t min_age_ns);

#define UG_REFRESH_NS (30 * 1000000000LL) /* files added behind our back */

int64_t ug__now_ns(int clock);

/* Sums the regular files below path (hard links once).  0 or -errno. */
int ug__measure_tree(const char *path, int64_t *bytes, int64_t *files);

#endif /* UG_TOTALS_H */
