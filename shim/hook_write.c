/*
 * Data hooks: write, pwrite, writev and kin, sendfile, copy_file_range,
 * splice, and lseek (which keeps a guarded description's position exact).
 * Fast path: one fd-table load and a test, lock-free and async-signal-safe.
 * Guarded path: the description's lock around position, cap and real call.
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "hooks.h"

/* ---- the guarded path --------------------------------------------------- */

/* The position a write at `off` lands at, asking the kernel. */
static int64_t kernel_pos(int fd, int64_t off, const struct ug_desc *d)
{
	struct stat st;

	if (off >= 0)
		return off;
	if (off == UG_AT_END || (d->oflags & O_APPEND))
		return fstat(fd, &st) == 0 ? st.st_size : -1;
	return real_lseek64(fd, 0, SEEK_CUR);
}

/* The heart of both paths: admit, the real call for what fits (or the
 * refusal), then settle the counters.  `locked`: d's lock is held and must
 * be dropped before an abort.  Returns the call's result, *err its errno. */
static ssize_t capped_call(struct ug_desc *d, int fd, int64_t pos, uint64_t n,
			   const char *op, ug_do_fn doit, void *ctx,
			   bool locked, int saved_errno, struct ug_admit *a,
			   int *err)
{
	ssize_t ret;

	ug__admit(d, (uint64_t)pos, n, UG_ADMIT_PARTIAL, a);
	if (a->mode == UG_MODE_ABORT && (a->rule || a->cross)) {
		if (locked)
			ug__desc_unlock(d);
		ug__report(a, d, op, fd, pos, -1, a->err); /* does not return */
	}
	if (a->allowed == 0 && a->err) {
		ret = -1;
		*err = a->err;
	} else {
		errno = saved_errno;
		ret = doit(ctx, a->allowed);
		*err = errno;
	}
	ug__commit(d, (uint64_t)pos, ret, a);
	return ret;
}

/* A write from a signal handler that interrupted this thread inside the
 * shim: the interrupted call may hold this file's lock, so the same caps
 * are applied without it: the position from the kernel, the counters
 * through their atomics, no rescan.  The tracked position is left stale
 * (re-read on the next write).  Deeper nesting passes through. */
static ssize_t nested_write(int fd, uint64_t n, int64_t off, const char *op,
			    ug_do_fn doit, void *ctx)
{
	uintptr_t e = ug__fd_get(fd);
	struct ug_desc *d;
	struct ug_admit a;
	int64_t pos;
	ssize_t ret;
	int err;
	UG_ERRNO_SAVE;

	if (e == UG_FD_UNKNOWN || (e & 3) || n == 0 || ug__depth > 1)
		return doit(ctx, n);
	d = ug__desc_get(fd); /* a known record: no classification here */
	if (!d)
		return doit(ctx, n);
	pos = kernel_pos(fd, off, d);
	if (pos < 0) {
		ug__desc_put(d);
		UG_ERRNO_RESTORE;
		return doit(ctx, n);
	}
	ug__depth++;
	ret = capped_call(d, fd, pos, n, op, doit, ctx, false, ug_saved_errno_,
			  &a, &err);
	d->pos_valid = false;
	ug__report(&a, d, op, fd, pos, ret, err);
	ug__depth--;
	ug__desc_put(d);
	errno = err;
	return ret;
}

ssize_t ug__guarded_write(int fd, uint64_t n, int64_t off, const char *op,
			  ug_do_fn doit, void *ctx)
{
	struct ug_desc *d;
	struct ug_admit a;
	int64_t pos;
	ssize_t ret;
	int err;
	UG_ERRNO_SAVE;

	if (!atomic_load_explicit(&ug__active, memory_order_relaxed))
		return doit(ctx, n);
	if (unlikely(!ug__enter()))
		return nested_write(fd, n, off, op, doit, ctx);
	d = ug__desc_get(fd);
	if (!d || n == 0)
		goto pass;
	ug__desc_lock(d);
	pos = off == UG_AT_END ? kernel_pos(fd, off, d)
	      : off >= 0       ? off
			       : ug__desc_pos(d, fd);
	if (pos < 0) {
		ug__desc_unlock(d);
		goto pass;
	}
	ret = capped_call(d, fd, pos, n, op, doit, ctx, true, ug_saved_errno_,
			  &a, &err);
	if (off == UG_AT_POS && ret > 0 && !(d->oflags & O_APPEND))
		d->pos = pos + ret;
	ug__desc_unlock(d);
	ug__report(&a, d, op, fd, pos, ret, err);
	ug__desc_put(d);
	ug__leave();
	errno = err;
	return ret;
pass:
	if (d)
		ug__desc_put(d);
	ug__leave();
	UG_ERRNO_RESTORE;
	return doit(ctx, n);
}

/* A read or transfer moved fd's position behind our back. */
void ug__pos_moved(int fd)
{
	uintptr_t e = ug__fd_get(fd);

	if (e != UG_FD_UNKNOWN && !(e & 3))
		((struct ug_desc *)e)->pos_valid = false;
}

/* ---- write / pwrite -------------------------------------------------------
 */

struct buf_ctx {
	int fd;
	const void *buf;
	int64_t off;
};

static ssize_t do_write(void *c, size_t n)
{
	struct buf_ctx *x = c;

	return real_write(x->fd, x->buf, n);
}

static ssize_t do_pwrite64(void *c, size_t n)
{
	struct buf_ctx *x = c;

	return real_pwrite64(x->fd, x->buf, n, x->off);
}

/* Out of line so that write's fast path stays a load, a test and a jump. */
static __attribute__((noinline)) ssize_t write_slow(int fd, const void *buf,
						    size_t n)
{
	struct buf_ctx c = {.fd = fd, .buf = buf};

	return ug__guarded_write(fd, n, UG_AT_POS, "write", do_write, &c);
}

UG_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (likely(ug__fd_get(fd) & 3))
		return real_write(fd, buf, n);
	return write_slow(fd, buf, n);
}

static ssize_t pwrite_common(int fd, const void *buf, size_t n, off64_t off,
			     const char *op)
{
	struct buf_ctx c = {.fd = fd, .buf = buf, .off = off};

	if (off < 0) /* let libc say EINVAL */
		return real_pwrite64(fd, buf, n, off);
	return ug__guarded_write(fd, n, off, op, do_pwrite64, &c);
}

UG_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (likely(ug__fd_get(fd) & 3))
		return real_pwrite(fd, buf, n, off);
	return pwrite_common(fd, buf, n, off, "pwrite");
}

UG_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	if (likely(ug__fd_get(fd) & 3))
		return real_pwrite64(fd, buf, n, off);
	return pwrite_common(fd, buf, n, off, "pwrite64");
}

/* ---- vectors ---------------------------------------------------------------
 */

struct vec_ctx {
	int fd, cnt, flags;
	const struct iovec *iov;
	int64_t off; /* -1: at the position */
};

static uint64_t iov_total(const struct iovec *iov, int cnt)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < cnt; i++)
		t = ug__add_sat(t, iov[i].iov_len);
	return t;
}

#define UG_IOV_TRIM 64 /* a trimmed vector keeps at most this many parts */

static ssize_t do_vec(void *c, size_t n)
{
	struct vec_ctx *x = c;
	struct iovec tmp[UG_IOV_TRIM];
	const struct iovec *iov = x->iov;
	int cnt = x->cnt, i;

	if (n < iov_total(iov, cnt)) {
		/* Write what fits: a shorter vector (a short count is
		 * allowed to stop early). */
		for (i = 0; i < cnt && i < UG_IOV_TRIM && n > 0; i++) {
			tmp[i] = iov[i];
			if (tmp[i].iov_len > n)
				tmp[i].iov_len = n;
			n -= tmp[i].iov_len;
		}
		iov = tmp;
		cnt = i;
		if (cnt == 0)
			return 0;
	}
	if (x->off < 0 && !x->flags)
		return real_writev(x->fd, iov, cnt);
	return real_pwritev64v2(x->fd, iov, cnt, x->off, x->flags);
}

static ssize_t vec_common(int fd, const struct iovec *iov, int cnt, int64_t off,
			  int flags, const char *op)
{
	struct vec_ctx c = {fd, cnt, flags, iov, off};
	int64_t where = off;

	if (cnt < 0 || cnt > IOV_MAX || (!iov && cnt)) /* libc says EINVAL */
		return off < 0 && !flags
			   ? real_writev(fd, iov, cnt)
			   : real_pwritev64v2(fd, iov, cnt, off, flags);
	if (flags & RWF_APPEND)
		where = UG_AT_END;
	else if (off < 0)
		where = UG_AT_POS;
	return ug__guarded_write(fd, iov_total(iov, cnt), where, op, do_vec,
				 &c);
}

UG_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (likely(ug__fd_get(fd) & 3))
		return real_writev(fd, iov, cnt);
	return vec_common(fd, iov, cnt, -1, 0, "writev");
}

UG_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (likely(ug__fd_get(fd) & 3) || off < 0)
		return real_pwritev(fd, iov, cnt, off);
	return vec_common(fd, iov, cnt, off, 0, "pwritev");
}

UG_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt,
			    off64_t off)
{
	if (likely(ug__fd_get(fd) & 3) || off < 0)
		return real_pwritev64(fd, iov, cnt, off);
	return vec_common(fd, iov, cnt, off, 0, "pwritev64");
}

UG_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off,
			   int flags)
{
	if (likely(ug__fd_get(fd) & 3) || off < -1)
		return real_pwritev2(fd, iov, cnt, off, flags);
	return vec_common(fd, iov, cnt, off, flags, "pwritev2");
}

UG_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt,
			      off64_t off, int flags)
{
	if (likely(ug__fd_get(fd) & 3) || off < -1)
		return real_pwritev64v2(fd, iov, cnt, off, flags);
	return vec_common(fd, iov, cnt, off, flags, "pwritev64v2");
}

/* ---- transfers --------------------------------------------------------------
 * cp asks copy_file_range for ~2^62 bytes a call: the request is clamped to
 * what the source still holds, so nothing is reserved (or reported) for
 * bytes that were never going to come.
 */
static uint64_t source_left(int in, const int64_t *inoff, uint64_t n)
{
	struct stat st;
	int64_t pos;
	int avail = 0;

	if (fstat(in, &st) < 0)
		return n;
	if (S_ISREG(st.st_mode)) {
		pos = inoff ? *inoff : real_lseek64(in, 0, SEEK_CUR);
		if (pos < 0)
			return n;
		return st.st_size > pos && (uint64_t)(st.st_size - pos) < n
			   ? (uint64_t)(st.st_size - pos)
		       : st.st_size > pos ? n
					  : 0;
	}
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		int psz = real_fcntl(in, F_GETPIPE_SZ);
		if (ioctl(in, FIONREAD, &avail) < 0)
			avail = 0;
		if (psz > avail)
			avail = psz; /* a blocking read may bring a pipeful */
		if (avail > 0 && (uint64_t)avail < n)
			return (uint64_t)avail;
	}
	return n;
}

struct xfer_ctx {
	int in, out;
	off64_t *inoff, *outoff;
	unsigned flags;
	int kind; /* 0 sendfile, 1 copy_file_range, 2 splice */
};

static ssize_t do_xfer(void *c, size_t n)
{
	struct xfer_ctx *x = c;

	switch (x->kind) {
	case 0:
		return real_sendfile64(x->out, x->in, x->inoff, n);
	case 1:
		return real_copy_file_range(x->in, x->inoff, x->out, x->outoff,
					    n, x->flags);
	default:
		return real_splice(x->in, x->inoff, x->out, x->outoff, n,
				   x->flags);
	}
}

static ssize_t xfer(struct xfer_ctx *x, size_t n, const char *op)
{
	uint64_t want;
	ssize_t r;

	if (!atomic_load_explicit(&ug__active, memory_order_relaxed) ||
	    (ug__fd_get(x->out) & 3) || ug__depth) {
		r = do_xfer(x, n);
	} else {
		UG_ERRNO_SAVE;
		want = source_left(x->in, x->inoff, n);
		UG_ERRNO_RESTORE;
		if (want == 0)
			r = do_xfer(x, n); /* at EOF: let the kernel say so */
		else
			r = ug__guarded_write(
			    x->out, want, x->outoff ? *x->outoff : UG_AT_POS,
			    op, do_xfer, x);
	}
	if (!x->inoff)
		ug__pos_moved(x->in);
	return r;
}

UG_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	struct xfer_ctx x = {in, out, (off64_t *)off, NULL, 0, 0};

	if (likely(ug__fd_get(out) & 3) && likely(ug__fd_get(in) & 3))
		return real_sendfile(out, in, off, n);
	return xfer(&x, n, "sendfile");
}

UG_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
	struct xfer_ctx x = {in, out, off, NULL, 0, 0};

	if (likely(ug__fd_get(out) & 3) && likely(ug__fd_get(in) & 3))
		return real_sendfile64(out, in, off, n);
	return xfer(&x, n, "sendfile64");
}

UG_EXPORT ssize_t copy_file_range(int in, off64_t *inoff, int out,
				  off64_t *outoff, size_t n, unsigned flags)
{
	struct xfer_ctx x = {in, out, inoff, outoff, flags, 1};

	return xfer(&x, n, "copy_file_range");
}

UG_EXPORT ssize_t splice(int in, off64_t *inoff, int out, off64_t *outoff,
			 size_t n, unsigned flags)
{
	struct xfer_ctx x = {in, out, inoff, outoff, flags, 2};

	if (likely(ug__fd_get(out) & 3) && likely(ug__fd_get(in) & 3))
		return real_splice(in, inoff, out, outoff, n, flags);
	return xfer(&x, n, "splice");
}

/* ---- lseek: keeps the tracked position exact -------------------------------
 */

static off64_t seek_slow(int fd, off64_t off, int whence)
{
	struct ug_desc *d = ug__depth ? NULL : ug__desc_get(fd);
	off64_t r;

	if (!d)
		return real_lseek64(fd, off, whence);
	ug__desc_lock(d);
	r = real_lseek64(fd, off, whence);
	if (r >= 0) {
		d->pos = r;
		d->pos_valid = true;
	}
	ug__desc_unlock(d);
	ug__desc_put(d);
	return r;
}

UG_EXPORT off_t lseek(int fd, off_t off, int whence)
{
	uintptr_t e = ug__fd_get(fd);

	if (likely(e == UG_FD_UNKNOWN || (e & 3)))
		return real_lseek(fd, off, whence);
	return seek_slow(fd, off, whence);
}

UG_EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	uintptr_t e = ug__fd_get(fd);

	if (likely(e == UG_FD_UNKNOWN || (e & 3)))
		return real_lseek64(fd, off, whence);
	return seek_slow(fd, off, whence);
}
