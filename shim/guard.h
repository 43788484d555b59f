/*
 * Internal state shared by the hooks: the real-function table, the per-thread
 * depth guard, the fd table and the guarded-file records.
 * The fd table is read lock-free on every hooked call (async-signal-safe);
 * records behind it are changed under ug__lock (open/close/dup paths only).
 */
#ifndef UG_GUARD_H
#define UG_GUARD_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"

#define UG_HIDDEN __attribute__((visibility("hidden")))
#define UG_EXPORT __attribute__((visibility("default")))
/* Thread-locals live in the static TLS block: no __tls_get_addr call (and
 * no dependency on ld.so) on any path. */
#define UG_TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- real functions ---------------------------------------------------- */

#define UG_HOOK(ret, name, params, args, fam) extern ret(*real_##name) params;
#include "hooks.def"

/* Resolves every real_* pointer once (a guarded process, in its
 * constructor).  Safe to call more than once. */
int ug__resolve_real(void);
/* Resolves one pointer still holding `unresolved` (its stub, or NULL). */
void ug__resolve_one(void **slot, const char *name, void *unresolved);

/* ---- process-wide state ------------------------------------------------- */

struct ug_totals;

/* One guarded subtree at run time. */
struct ug_rootrt {
	const struct ug_root *cfg;
	enum ug_mode mode; /* effective mode */
	dev_t dev;	   /* of the root directory (0: missing) */
	ino_t ino;
	char *real; /* realpath() of the root, or cfg->path */
	size_t reallen;
	struct ug_totals *tot; /* shared totals, never NULL once active */
	int shm_fd;
};

struct ug_state {
	struct ug_config cfg;
	struct ug_rootrt *roots;
	size_t nroots;
	pid_t pid; /* cached getpid(), refreshed after fork */
	char exe[512];
	bool need_prestat;  /* some root counts files or owners */
	bool sessions;	    /* cross-session checks are on */
	bool php_sessions;  /* [session] from has php */
	bool http_sessions; /* [session] from has cookie: or header: */
	int log_fd;	    /* protected fd, -1 when none */
};

extern struct ug_state ug__st UG_HIDDEN;
/* True once the constructor finished and at least one root is configured.
 * Every hook tests it first: false means pass straight through. */
extern atomic_bool ug__active UG_HIDDEN;
extern _Atomic unsigned ug__fork_gen UG_HIDDEN;
extern pthread_mutex_t ug__lock UG_HIDDEN;

/* ---- depth guard --------------------------------------------------------- */

extern UG_TLS int ug__depth UG_HIDDEN;

static inline bool ug__enter(void)
{
	if (ug__depth)
		return false;
	ug__depth++;
	return true;
}
static inline void ug__leave(void) { ug__depth--; }

/* ---- fd table -----------------------------------------------------------
 * ug__fds[fd]: 0 unknown (classify on first use), UG_FD_PLAIN not guarded,
 * else a struct ug_desc *.  Fds at or above ug__nfds are never guarded.
 */
#define UG_FD_UNKNOWN ((uintptr_t)0)
#define UG_FD_PLAIN ((uintptr_t)1)

extern _Atomic uintptr_t *ug__fds UG_HIDDEN;
extern int ug__nfds UG_HIDDEN;
extern _Atomic int ug__fd_hwm UG_HIDDEN; /* highest fd ever recorded */

struct ug_inode;

/* An open file description of a guarded file (shared by dup'ed fds). */
struct ug_desc {
	atomic_flag lock;  /* serialises position/size updates */
	int refs;	   /* fds pointing here (under ug__lock) */
	int oflags;	   /* O_APPEND, O_ACCMODE */
	unsigned born_gen; /* ug__fork_gen when opened */
	bool pos_valid;	   /* pos is exact */
	bool stdio;	   /* a FILE * owns it: trust no position */
	int64_t pos;
	struct ug_inode *ino;
	uint64_t written; /* bytes written through it (audit) */
	char opener[17];  /* digest of the opener's session, or "" */
};

/* A guarded file (one per dev/ino in this process). */
struct ug_inode {
	struct ug_inode *next; /* hash chain (under ug__lock) */
	dev_t dev;
	ino_t ino;
	_Atomic int64_t size; /* apparent size as far as we know */
	struct ug_rootrt *root;
	int refs;	    /* descs (under ug__lock) */
	bool tmpfile;	    /* O_TMPFILE or unlinked while open */
	uint64_t scan_mark; /* root's scan count when it went */
	char owner[17];	    /* owning session digest, or "" */
	char path[];	    /* absolute path at classification */
};

/* The desc lock: held across one real call on the file.  A spin with a
 * yield: the holder is another thread in a write (the same thread cannot
 * come back: the depth guard sends a signal handler straight through). */
static inline void ug__desc_lock(struct ug_desc *d)
{
	int spins = 0;

	while (
	    atomic_flag_test_and_set_explicit(&d->lock, memory_order_acquire))
		if (++spins > 64)
			sched_yield();
}

static inline void ug__desc_unlock(struct ug_desc *d)
{
	atomic_flag_clear_explicit(&d->lock, memory_order_release);
}

static inline uintptr_t ug__fd_get(int fd)
{
	if ((unsigned)fd >= (unsigned)ug__nfds)
		return UG_FD_PLAIN;
	return atomic_load_explicit(&ug__fds[fd], memory_order_acquire);
}

/* Returns the desc for fd if it is guarded, classifying it first when its
 * state is unknown; NULL when it is not guarded.  Takes a reference that
 * ug__desc_put drops. */
struct ug_desc *ug__desc_get(int fd) UG_HIDDEN;
void ug__desc_put(struct ug_desc *d) UG_HIDDEN;

/* Records a freshly opened fd.  `path` (may be NULL) and `dirfd` are what
 * the caller passed; `created` says whether the call created the file.
 * Returns 0, or -errno when the open must be undone (max_files deny). */
int ug__fd_opened(int fd, int oflags, bool created, const char *op) UG_HIDDEN;
void ug__fd_closed(int fd) UG_HIDDEN; /* before the real close */
void ug__fd_dup(int oldfd, int newfd) UG_HIDDEN;
void ug__fd_forget_plain(void) UG_HIDDEN; /* plain regular fds -> unknown */

/* ---- paths ----------------------------------------------------------------*/

/* Absolute path of the file open on fd (from /proc/self/fd).  Strips a
 * " (deleted)" suffix and sets *deleted.  Returns length or -errno. */
int ug__fd_path(int fd, char *buf, size_t size, bool *deleted) UG_HIDDEN;
/* The root whose subtree holds the absolute canonical path, or NULL. */
struct ug_rootrt *ug__root_for(const char *abs) UG_HIDDEN;
bool ug__dev_guarded(dev_t dev) UG_HIDDEN;
/* Resolves the directory part of (dirfd, path) as the kernel would and
 * writes the absolute path of the final name into out.  Returns the root it
 * falls under (or NULL) and fills *st from lstat of the name (st_mode 0 when
 * it does not exist).  Returns NULL quickly when the parent directory is not
 * on a guarded device. */
struct ug_rootrt *
ug__classify_name(int dirfd, const char *path, char *out, size_t outsz,
		  struct stat *st, char *work) UG_HIDDEN; /* work: 2*PATH_MAX */

/* ---- misc
 * ------------------------------------------------------------------*/
pid_t ug__gettid(void) UG_HIDDEN;
void ug__init(void) UG_HIDDEN; /* idempotent; for calls before the ctor */
void ug__net_init(void) UG_HIDDEN;
void ug__block_io_uring(void) UG_HIDDEN; /* seccomp: io_uring_setup -> ENOSYS */

/* Saves errno on entry of a pass-through path. */
#define UG_ERRNO_SAVE int ug_saved_errno_ = errno
#define UG_ERRNO_RESTORE (errno = ug_saved_errno_)

#endif /* UG_GUARD_H */
