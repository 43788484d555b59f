/*
 * stdio: glibc writes a stream's buffer with its internal __write, never
 * the exported write, so bytes are capped where they enter the stream.
 * A guarded stream's bytes count when fwrite accepts them.  Fast path: the
 * stream's fd is not guarded (one load).  Thread-safe: the stream's own
 * lock is held across position, cap and the real call.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "session.h"

/* glibc may define these as macros under optimisation: we define them. */
#undef fwrite_unlocked
#undef putc
#undef putchar

static inline bool stream_plain(FILE *f)
{
	return !f || (ug__fd_get(f->_fileno) & 3);
}

void ug__stdio_attached(int fd)
{
	struct ug_desc *d = ug__desc_get(fd);

	if (d) {
		d->stdio = true;
		ug__desc_put(d);
	}
}

/* ---- opening ----------------------------------------------------------------
 */

/* fopen's mode to open(2) flags; false for modes we leave to libc. */
static bool mode_flags(const char *mode, int *flags)
{
	int f;
	const char *m;

	switch (mode[0]) {
	case 'r':
		f = O_RDONLY;
		break;
	case 'w':
		f = O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case 'a':
		f = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		return false;
	}
	for (m = mode + 1; *m && *m != ','; m++) {
		if (*m == '+')
			f = (f & ~O_ACCMODE) | O_RDWR;
		else if (*m == 'x')
			f |= O_EXCL;
		else if (*m == 'e')
			f |= O_CLOEXEC;
	}
	if (*m == ',') /* ",ccs=": leave wide streams to libc */
		return false;
	*flags = f;
	return true;
}

static FILE *fopen_common(const char *path, const char *mode,
			  FILE *(*real)(const char *, const char *),
			  const char *op)
{
	FILE *f;
	int flags, fd;
	UG_ERRNO_SAVE;

	if (!atomic_load_explicit(&ug__active, memory_order_relaxed) ||
	    ug__depth || !path || !mode)
		return real(path, mode);
	if (!mode_flags(mode, &flags) || (flags & O_ACCMODE) == O_RDONLY) {
		f = real(path, mode);
		if (f) {
			ug__fd_opened(f->_fileno, O_RDONLY, false, op);
			UG_ERRNO_RESTORE;
		}
		return f;
	}
	/* open through the guard (caps, sessions, max_files), then wrap */
	fd = ug__open_common(0 /* open */, AT_FDCWD, path, flags, 0666, op);
	if (fd < 0)
		return NULL;
	f = real_fdopen(fd, mode);
	if (!f) {
		int e = errno;
		ug__fd_closed(fd);
		real_close(fd);
		errno = e;
		return NULL;
	}
	ug__stdio_attached(fd);
	UG_ERRNO_RESTORE;
	return f;
}

UG_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return fopen_common(path, mode, real_fopen, "fopen");
}

UG_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen_common(path, mode, real_fopen64, "fopen64");
}

UG_EXPORT FILE *fdopen(int fd, const char *mode)
{
	FILE *f = real_fdopen(fd, mode);
	UG_ERRNO_SAVE;

	if (f && atomic_load(&ug__active) && !ug__depth &&
	    !(ug__fd_get(fd) & 3)) {
		ug__stdio_attached(fd);
		UG_ERRNO_RESTORE;
	}
	return f;
}

static FILE *freopen_common(const char *path, const char *mode, FILE *f,
			    FILE *(*real)(const char *, const char *, FILE *),
			    const char *op)
{
	int oldfd = f ? f->_fileno : -1, flags = O_RDWR;
	FILE *r;
	UG_ERRNO_SAVE;

	if (!atomic_load(&ug__active) || ug__depth)
		return real(path, mode, f);
	if (oldfd >= 0)
		ug__fd_closed(oldfd); /* libc closes it inside */
	r = real(path, mode, f);
	if (r) {
		int e = errno;
		if (!mode_flags(mode, &flags))
			flags = O_RDWR;
		ug__fd_opened(r->_fileno, flags, false, op);
		ug__stdio_attached(r->_fileno);
		errno = e;
		UG_ERRNO_RESTORE;
	}
	return r;
}

UG_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	return freopen_common(path, mode, f, real_freopen, "freopen");
}

UG_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	return freopen_common(path, mode, f, real_freopen64, "freopen64");
}

/* ---- writing --------------------------------------------------------------
 * put_capped runs with the stream locked: position, cap, then the real
 * write of what fits.  Returns the bytes stdio accepted, or -1.
 */
typedef size_t (*put_fn)(const void *p, size_t n, FILE *f);

static size_t put_fwrite(const void *p, size_t n, FILE *f)
{
	return real_fwrite_unlocked(p, 1, n, f);
}

static int64_t stream_pos(FILE *f, struct ug_desc *d)
{
	struct stat st;
	int64_t pend;

	if (d->oflags & O_APPEND) {
		/* the end of the file plus what waits in the buffer */
		if (fstat(f->_fileno, &st) < 0)
			return -1;
		pend = f->_IO_write_ptr - f->_IO_write_base;
		return st.st_size + (pend > 0 ? pend : 0);
	}
	return ftello(f);
}

/* Writes n bytes from p to the guarded stream f.  *accepted: bytes taken. */
static int put_capped(FILE *f, const void *p, size_t n, const char *op,
		      size_t *accepted)
{
	struct ug_desc *d;
	struct ug_admit a;
	int64_t pos;
	size_t done = 0;
	int err;
	UG_ERRNO_SAVE;

	*accepted = 0;
	if (!atomic_load(&ug__active) || !ug__enter()) {
		*accepted = real_fwrite(p, 1, n, f);
		return *accepted == n ? 0 : -1;
	}
	d = ug__desc_get(f->_fileno);
	if (!d || n == 0) {
		if (d)
			ug__desc_put(d);
		ug__leave();
		UG_ERRNO_RESTORE;
		*accepted = real_fwrite(p, 1, n, f);
		return *accepted == n ? 0 : -1;
	}
	flockfile(f);
	pos = stream_pos(f, d);
	if (pos < 0)
		pos = atomic_load(&d->ino->size);
	ug__admit(d, (uint64_t)pos, n, UG_ADMIT_PARTIAL, &a);
	if (a.mode == UG_MODE_ABORT && (a.rule || a.cross)) {
		funlockfile(f);
		ug__report(&a, d, op, f->_fileno, pos, -1, a.err);
	}
	UG_ERRNO_RESTORE;
	if (a.allowed)
		done = put_fwrite(p, a.allowed, f);
	err = errno;
	ug__commit(d, (uint64_t)pos, (int64_t)done, &a);
	if (done < n && a.allowed < n) {
		/* the cap cut it: a stream error, as a failed write leaves */
		f->_flags |= _IO_ERR_SEEN;
		err = a.err ? a.err : ug__rule_errno(a.rule);
		if (a.cross)
			err = EACCES;
	}
	funlockfile(f);
	ug__report(&a, d, op, f->_fileno, pos,
		   done < n ? (done ? (int64_t)done : -1) : (int64_t)done, err);
	ug__desc_put(d);
	ug__leave();
	errno = done < n ? err : ug_saved_errno_;
	*accepted = done;
	return done == n ? 0 : -1;
}

static size_t fwrite_common(const void *p, size_t size, size_t n, FILE *f,
			    const char *op)
{
	size_t bytes, acc;

	if (size == 0 || n == 0)
		return 0;
	if (__builtin_mul_overflow(size, n, &bytes))
		return real_fwrite(p, size, n, f);
	put_capped(f, p, bytes, op, &acc);
	return acc / size;
}

UG_EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	if (likely(stream_plain(f)))
		return real_fwrite(p, size, n, f);
	return fwrite_common(p, size, n, f, "fwrite");
}

UG_EXPORT size_t fwrite_unlocked(const void *p, size_t size, size_t n, FILE *f)
{
	if (likely(stream_plain(f)))
		return real_fwrite_unlocked(p, size, n, f);
	return fwrite_common(p, size, n, f, "fwrite_unlocked");
}

static int puts_common(const char *s, FILE *f, const char *op)
{
	size_t acc, n = strlen(s);

	return put_capped(f, s, n, op, &acc) == 0 ? 1 : EOF;
}

UG_EXPORT int fputs(const char *s, FILE *f)
{
	if (likely(stream_plain(f)))
		return real_fputs(s, f);
	return puts_common(s, f, "fputs");
}

UG_EXPORT int fputs_unlocked(const char *s, FILE *f)
{
	if (likely(stream_plain(f)))
		return real_fputs_unlocked(s, f);
	return puts_common(s, f, "fputs_unlocked");
}

UG_EXPORT int puts(const char *s)
{
	size_t acc, n;

	if (likely(stream_plain(stdout)))
		return real_puts(s);
	if (puts_common(s, stdout, "puts") == EOF ||
	    put_capped(stdout, "\n", 1, "puts", &acc) < 0)
		return EOF;
	n = strlen(s); /* glibc returns MIN(INT_MAX, len + 1) */
	return n >= INT_MAX ? INT_MAX : (int)n + 1;
}

static int putc_common(int c, FILE *f, const char *op)
{
	unsigned char ch = (unsigned char)c;
	size_t acc;

	return put_capped(f, &ch, 1, op, &acc) == 0 ? ch : EOF;
}

#define UG_PUTC(name)                                                          \
	UG_EXPORT int name(int c, FILE *f)                                     \
	{                                                                      \
		if (likely(stream_plain(f)))                                   \
			return real_##name(c, f);                              \
		return putc_common(c, f, #name);                               \
	}
UG_PUTC(fputc)
UG_PUTC(fputc_unlocked)
UG_PUTC(putc)
UG_PUTC(putc_unlocked)
UG_PUTC(_IO_putc)

UG_EXPORT int putchar(int c)
{
	if (likely(stream_plain(stdout)))
		return real_putchar(c);
	return putc_common(c, stdout, "putchar");
}

UG_EXPORT int putchar_unlocked(int c)
{
	if (likely(stream_plain(stdout)))
		return real_putchar_unlocked(c);
	return putc_common(c, stdout, "putchar_unlocked");
}

/* ---- formatted output: format first, then cap what is written -------------
 */

/* Formats into a buffer (stack when small).  Returns length or -1; *heap
 * says whether *out must be freed. */
static int format(char *stackbuf, size_t stacksz, char **out, const char *fmt,
		  va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(stackbuf, stacksz, fmt, cp);
	va_end(cp);
	*out = stackbuf;
	if (n < 0 || (size_t)n < stacksz)
		return n;
	*out = malloc((size_t)n + 1);
	if (!*out)
		return -1;
	vsnprintf(*out, (size_t)n + 1, fmt, ap);
	return n;
}

static int vfprintf_guarded(FILE *f, const char *fmt, va_list ap,
			    const char *op)
{
	char sb[512], *buf;
	size_t acc;
	int n = format(sb, sizeof(sb), &buf, fmt, ap), rc;

	if (n < 0)
		return -1;
	rc = put_capped(f, buf, (size_t)n, op, &acc);
	if (buf != sb) {
		UG_ERRNO_SAVE;
		free(buf);
		UG_ERRNO_RESTORE;
	}
	return rc == 0 ? n : -1;
}

UG_EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	if (likely(stream_plain(f)))
		return real_vfprintf(f, fmt, ap);
	return vfprintf_guarded(f, fmt, ap, "vfprintf");
}

UG_EXPORT int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	if (likely(stream_plain(f)))
		return real___vfprintf_chk(f, flag, fmt, ap);
	return vfprintf_guarded(f, fmt, ap, "__vfprintf_chk");
}

UG_EXPORT int vprintf(const char *fmt, va_list ap)
{
	if (likely(stream_plain(stdout)))
		return real_vprintf(fmt, ap);
	return vfprintf_guarded(stdout, fmt, ap, "vprintf");
}

UG_EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	if (likely(stream_plain(stdout)))
		return real___vprintf_chk(flag, fmt, ap);
	return vfprintf_guarded(stdout, fmt, ap, "__vprintf_chk");
}

#define UG_PRINTF_BODY(stream, realcall, op)                                   \
	va_list ap;                                                            \
	int r;                                                                 \
	va_start(ap, fmt);                                                     \
	if (likely(stream_plain(stream)))                                      \
		r = realcall;                                                  \
	else                                                                   \
		r = vfprintf_guarded(stream, fmt, ap, op);                     \
	va_end(ap);                                                            \
	return r;

UG_EXPORT int fprintf(FILE *f, const char *fmt, ...){
    UG_PRINTF_BODY(f, real_vfprintf(f, fmt, ap), "fprintf")}

UG_EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...){
    UG_PRINTF_BODY(f, real___vfprintf_chk(f, flag, fmt, ap), "__fprintf_chk")}

UG_EXPORT int printf(const char *fmt, ...){
    UG_PRINTF_BODY(stdout, real_vfprintf(stdout, fmt, ap), "printf")}

UG_EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
	UG_PRINTF_BODY(stdout, real___vfprintf_chk(stdout, flag, fmt, ap),
		       "__printf_chk")
}

/* dprintf writes to an fd: format, then the guarded write path. */
struct dp_ctx {
	int fd;
	const char *buf;
};

static ssize_t do_dp(void *c, size_t n)
{
	struct dp_ctx *x = c;

	return real_write(x->fd, x->buf, n);
}

static int vdprintf_guarded(int fd, const char *fmt, va_list ap, const char *op)
{
	char sb[512], *buf;
	struct dp_ctx c;
	ssize_t w;
	int n = format(sb, sizeof(sb), &buf, fmt, ap);

	if (n < 0)
		return -1;
	c.fd = fd;
	c.buf = buf;
	w = ug__guarded_write(fd, (size_t)n, UG_AT_POS, op, do_dp, &c);
	if (buf != sb) {
		UG_ERRNO_SAVE;
		free(buf);
		UG_ERRNO_RESTORE;
	}
	if (w >= 0 && w < n) { /* a short write: dprintf reports failure */
		errno = EFBIG;
		return -1;
	}
	return w < 0 ? -1 : n;
}

UG_EXPORT int vdprintf(int fd, const char *fmt, va_list ap)
{
	if (likely(ug__fd_get(fd) & 3))
		return real_vdprintf(fd, fmt, ap);
	return vdprintf_guarded(fd, fmt, ap, "vdprintf");
}

UG_EXPORT int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
	if (likely(ug__fd_get(fd) & 3))
		return real___vdprintf_chk(fd, flag, fmt, ap);
	return vdprintf_guarded(fd, fmt, ap, "__vdprintf_chk");
}

UG_EXPORT int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (likely(ug__fd_get(fd) & 3))
		r = real_vdprintf(fd, fmt, ap);
	else
		r = vdprintf_guarded(fd, fmt, ap, "dprintf");
	va_end(ap);
	return r;
}

UG_EXPORT int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (likely(ug__fd_get(fd) & 3))
		r = real___vdprintf_chk(fd, flag, fmt, ap);
	else
		r = vdprintf_guarded(fd, fmt, ap, "__dprintf_chk");
	va_end(ap);
	return r;
}

/* ---- bytes that arrived without a hook --------------------------------------
 * glibc's headers inline putc_unlocked, fputc_unlocked and putchar_unlocked:
 * they fill the buffer directly and call __overflow only when it is full.
 * Such bytes are settled when the buffer moves (__overflow, fflush,
 * fclose): what does not fit is dropped from the buffer, as a failed write
 * would drop it.  Called with the stream locked; returns 0, or -1 with
 * errno when the cap refuses (also `extra` bytes about to be added).
 */
static int settle(FILE *f, struct ug_desc *d, const char *op, int extra)
{
	struct ug_admit a;
	int64_t end, size = atomic_load(&d->ino->size), pending = 0, trim;
	uint64_t want;

	if (f->_flags & 0x800 /* _IO_CURRENTLY_PUTTING */)
		pending = f->_IO_write_ptr - f->_IO_write_base;
	end = stream_pos(f, d);
	if (end < 0 || end + extra <= size)
		return 0;
	want = (uint64_t)(end + extra - size);
	ug__admit(d, (uint64_t)size, want, UG_ADMIT_PARTIAL, &a);
	if (a.mode == UG_MODE_ABORT && (a.rule || a.cross)) {
		funlockfile(f);
		ug__report(&a, d, op, f->_fileno, size, -1, a.err);
	}
	if (a.allowed >= want) {
		ug__commit(d, (uint64_t)size, (int64_t)want - extra, &a);
		return 0;
	}
	/* keep what fits of the pending bytes, drop the rest */
	trim = (int64_t)(want - a.allowed) - extra;
	if (trim > pending)
		trim = pending;
	if (trim > 0)
		f->_IO_write_ptr -= trim;
	ug__commit(d, (uint64_t)size,
		   a.allowed > (uint64_t)extra ? (int64_t)a.allowed - extra : 0,
		   &a);
	f->_flags |= _IO_ERR_SEEN;
	ug__report(&a, d, op, f->_fileno, size, -1,
		   a.cross ? EACCES : ug__rule_errno(a.rule));
	errno = a.cross ? EACCES : ug__rule_errno(a.rule);
	return -1;
}

/* Runs settle on a guarded stream; 0 when f is not guarded. */
static int settle_stream(FILE *f, const char *op, int extra)
{
	struct ug_desc *d;
	int rc = 0, err = 0;
	UG_ERRNO_SAVE;

	if (!f || !atomic_load(&ug__active) || !ug__enter())
		return 0;
	d = ug__desc_get(f->_fileno);
	if (d) {
		flockfile(f);
		rc = settle(f, d, op, extra);
		err = errno;
		funlockfile(f);
		ug__desc_put(d);
	}
	ug__leave();
	errno = rc ? err : ug_saved_errno_;
	return rc;
}

UG_EXPORT int __overflow(FILE *f, int ch)
{
	if (likely(stream_plain(f)))
		return real___overflow(f, ch);
	if (settle_stream(f, "__overflow", ch != EOF) < 0)
		return EOF;
	return real___overflow(f, ch);
}

/* ---- flush and close --------------------------------------------------------
 * Bytes were capped when they entered the buffer (or are settled here);
 * fclose closes the fd inside libc: forget it first.
 */
/* A flush that the cap cut short failed, as a failed write would: the bytes
 * that fit are flushed, then EOF with the cap's errno. */
static int flush_result(int settled, int err, int r)
{
	if (settled < 0) {
		errno = err;
		return EOF;
	}
	return r;
}

UG_EXPORT int fflush(FILE *f)
{
	int s, e;

	if (likely(stream_plain(f)))
		return real_fflush(f);
	s = settle_stream(f, "fflush", 0);
	e = errno;
	return flush_result(s, e, real_fflush(f));
}

UG_EXPORT int fflush_unlocked(FILE *f)
{
	int s, e;

	if (likely(stream_plain(f)))
		return real_fflush_unlocked(f);
	s = settle_stream(f, "fflush_unlocked", 0);
	e = errno;
	return flush_result(s, e, real_fflush_unlocked(f));
}

UG_EXPORT int fclose(FILE *f)
{
	int s = 0, e = 0;

	if (f && atomic_load_explicit(&ug__active, memory_order_relaxed)) {
		UG_ERRNO_SAVE;
		if (!stream_plain(f))
			s = settle_stream(f, "fclose", 0);
		e = errno;
		ug__fd_closed(f->_fileno);
		UG_ERRNO_RESTORE;
	}
	return flush_result(s, e, real_fclose(f));
}
