/*
 * Shared by the hook_*.c files: the guarded data path and small helpers.
 */
#ifndef UG_HOOKS_H
#define UG_HOOKS_H

#include "guard.h"
#include "policy.h"

#define UG_AT_POS (-1) /* at the description's position */
#define UG_AT_END (-2) /* at the end of the file (RWF_APPEND) */

typedef ssize_t (*ug_do_fn)(void *ctx, size_t n);

/* Runs a data operation of n bytes on fd at off (an offset, UG_AT_POS or
 * UG_AT_END) through the caps: doit(ctx, allowed) performs the real call
 * with the byte count it may do.  Pass-through when fd is not guarded.
 * Preserves errno on pass-through; on a deny returns -1 with EFBIG/EDQUOT
 * (EACCES for a cross-session deny). */
ssize_t ug__guarded_write(int fd, uint64_t n, int64_t off, const char *op,
			  ug_do_fn doit, void *ctx) UG_HIDDEN;
void ug__pos_moved(int fd) UG_HIDDEN;
/* The open path shared by every open name and by fopen (kind: hook_open.c's
 * enum open_kind).  Returns the fd or -1 with errno. */
int ug__open_common(int kind, int dirfd, const char *path, int flags,
		    mode_t mode, const char *op) UG_HIDDEN;
/* A FILE * now buffers writes to fd: its position is stdio's. */
void ug__stdio_attached(int fd) UG_HIDDEN;

/* A variadic or void hook has no stub: resolve its pointer on first use. */
#define UG_NEED_REAL(name)                                                     \
	do {                                                                   \
		if (unlikely(!real_##name))                                    \
			ug__resolve_one((void **)&real_##name, #name, NULL);   \
	} while (0)

#endif /* UG_HOOKS_H */
