/*
 * Size hooks: ftruncate, truncate, fallocate, posix_fallocate (and their
 * 64-bit names).  Growth past a cap fails whole with EFBIG/EDQUOT, like
 * RLIMIT_FSIZE; growing to exactly the cap is allowed.  Thread-safe.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "totals.h"

enum { SZ_FTRUNCATE, SZ_FALLOCATE, SZ_POSIX_FALLOCATE };

struct size_op {
	int kind;
	int fd;
	int mode;	  /* fallocate mode */
	int64_t off, len; /* fallocate range / ftruncate length */
	const char *op;
};

static int do_size(const struct size_op *s)
{
	switch (s->kind) {
	case SZ_FTRUNCATE:
		return real_ftruncate64(s->fd, s->len);
	case SZ_FALLOCATE:
		return real_fallocate64(s->fd, s->mode, s->off, s->len);
	default:
		return real_posix_fallocate64(s->fd, s->off, s->len);
	}
}

/* Runs a size operation through the caps.  Returns what the libc call
 * returns (posix_fallocate: an error number, not -1). */
static int size_guarded(struct size_op *s)
{
	struct ug_desc *d;
	struct ug_admit a;
	struct stat st;
	int64_t size, end;
	int rc, err;
	bool posix = s->kind == SZ_POSIX_FALLOCATE;
	UG_ERRNO_SAVE;

	if (!atomic_load_explicit(&ug__active, memory_order_relaxed) ||
	    !ug__enter())
		return do_size(s);
	d = ug__desc_get(s->fd);
	if (!d || s->len < 0 || s->off < 0 ||
	    (s->kind == SZ_FALLOCATE && (s->mode & FALLOC_FL_KEEP_SIZE))) {
		if (d)
			ug__desc_put(d);
		ug__leave();
		UG_ERRNO_RESTORE;
		return do_size(s);
	}
	ug__desc_lock(d);
	/* Rare call: resync the tracked size with the disk first. */
	size = atomic_load(&d->ino->size);
	if (fstat(s->fd, &st) == 0) {
		int64_t was = atomic_exchange(&d->ino->size, st.st_size);

		if (st.st_size < was)
			ug__totals_changed(d->ino->root);
		ug__ctr_add(ug__bytes_ctr(d->ino->root), st.st_size - was);
		size = st.st_size;
	}
	end = s->kind == SZ_FTRUNCATE ? s->len : s->off + s->len;
	memset(&a, 0, sizeof(a));
	if (end > size)
		ug__admit(d, (uint64_t)size, (uint64_t)(end - size),
			  UG_ADMIT_WHOLE, &a);
	if (a.mode == UG_MODE_ABORT && (a.rule || a.cross)) {
		ug__desc_unlock(d);
		ug__report(&a, d, s->op, s->fd, end, -1, a.err);
	}
	if (end > size && a.allowed == 0 && a.err) {
		err = a.err;
		rc = posix ? err : -1;
	} else {
		UG_ERRNO_RESTORE;
		rc = do_size(s);
		err = posix ? rc : (rc < 0 ? errno : ug_saved_errno_);
		if (posix && rc == 0)
			err = ug_saved_errno_;
	}
	if (end > size) {
		ug__commit(d, (uint64_t)size, (rc == 0) ? end - size : -1, &a);
	} else if (rc == 0 && s->kind == SZ_FTRUNCATE) {
		ug__shrunk(d->ino, s->len);
	}
	ug__desc_unlock(d);
	if (end > size)
		ug__report(&a, d, s->op, s->fd, end, posix ? (rc ? -1 : 0) : rc,
			   posix ? rc : err);
	ug__desc_put(d);
	ug__leave();
	errno = posix ? ug_saved_errno_ : err;
	return rc;
}

UG_EXPORT int ftruncate(int fd, off_t len)
{
	struct size_op s = {SZ_FTRUNCATE, fd, 0, 0, len, "ftruncate"};

	if (likely(ug__fd_get(fd) & 3))
		return real_ftruncate(fd, len);
	return size_guarded(&s);
}

UG_EXPORT int ftruncate64(int fd, off64_t len)
{
	struct size_op s = {SZ_FTRUNCATE, fd, 0, 0, len, "ftruncate64"};

	if (likely(ug__fd_get(fd) & 3))
		return real_ftruncate64(fd, len);
	return size_guarded(&s);
}

UG_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	struct size_op s = {SZ_FALLOCATE, fd, mode, off, len, "fallocate"};

	if (likely(ug__fd_get(fd) & 3))
		return real_fallocate(fd, mode, off, len);
	return size_guarded(&s);
}

UG_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	struct size_op s = {SZ_FALLOCATE, fd, mode, off, len, "fallocate64"};

	if (likely(ug__fd_get(fd) & 3))
		return real_fallocate64(fd, mode, off, len);
	return size_guarded(&s);
}

UG_EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
	struct size_op s = {SZ_POSIX_FALLOCATE, fd, 0, off, len,
			    "posix_fallocate"};

	if (likely(ug__fd_get(fd) & 3))
		return real_posix_fallocate(fd, off, len);
	return size_guarded(&s);
}

UG_EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len)
{
	struct size_op s = {SZ_POSIX_FALLOCATE, fd, 0, off, len,
			    "posix_fallocate64"};

	if (likely(ug__fd_get(fd) & 3))
		return real_posix_fallocate64(fd, off, len);
	return size_guarded(&s);
}

/* truncate(path): a write open of the path, then the fd path above.  When
 * the open fails, libc's truncate gives the exact errno. */
static int truncate_common(const char *path, int64_t len, const char *op,
			   int (*real)(const char *, off64_t))
{
	struct size_op s = {SZ_FTRUNCATE, -1, 0, 0, len, op};
	int fd, rc, e;
	UG_ERRNO_SAVE;

	if (!atomic_load(&ug__active) || ug__depth)
		return real(path, len);
	fd = real_openat(AT_FDCWD, path,
			 O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		UG_ERRNO_RESTORE;
		return real(path, len);
	}
	ug__depth++;
	rc = ug__fd_opened(fd, O_WRONLY, false, op);
	ug__depth--;
	if (rc == 0) {
		s.fd = fd;
		rc = size_guarded(&s);
	} else {
		errno = -rc;
		rc = -1;
	}
	e = errno;
	ug__fd_closed(fd);
	real_close(fd);
	errno = rc < 0 ? e : ug_saved_errno_;
	return rc;
}

static int real_truncate_any(const char *p, off64_t l)
{
	return real_truncate64(p, l);
}

UG_EXPORT int truncate(const char *path, off_t len)
{
	return truncate_common(path, len, "truncate", real_truncate_any);
}

UG_EXPORT int truncate64(const char *path, off64_t len)
{
	return truncate_common(path, len, "truncate64", real_truncate_any);
}
