/*
 * Open family: open/openat and their 64-bit and fortified names, creat,
 * mkstemp and kin, tmpfile.  Every fd they return is recorded (a read-only
 * open costs one store); a file created in a full subtree is removed again
 * and the call fails with EDQUOT.  Thread-safe.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "session.h"

/* What an open call does, so one body serves every name. */
enum open_kind {
	OPEN,
	OPEN64,
	OPENAT,
	OPENAT64,
	OPEN_2,
	OPEN64_2,
	OPENAT_2,
	OPENAT64_2
};

static int call_real(enum open_kind k, int dirfd, const char *path, int flags,
		     mode_t mode)
{
	switch (k) {
	case OPEN:
		return real_open(path, flags, mode);
	case OPEN64:
		return real_open64(path, flags, mode);
	case OPENAT:
		return real_openat(dirfd, path, flags, mode);
	case OPENAT64:
		return real_openat64(dirfd, path, flags, mode);
	case OPEN_2:
		return real___open_2(path, flags);
	case OPEN64_2:
		return real___open64_2(path, flags);
	case OPENAT_2:
		return real___openat_2(dirfd, path, flags);
	default:
		return real___openat64_2(dirfd, path, flags);
	}
}

static bool wants_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* Takes back an open the guard refused: forget and close the fd, remove a
 * file the call created.  Returns -1 with errno = -rc for the caller. */
static int undo_open(int fd, int rc, int dirfd, const char *path, bool created)
{
	ug__fd_closed(fd);
	real_close(fd);
	if (created)
		real_unlinkat(dirfd, path, 0);
	ug__depth--;
	errno = -rc;
	return -1;
}

int ug__open_common(int k, int dirfd, const char *path, int flags, mode_t mode,
		    const char *op)
{
	struct stat st;
	bool created = false, exists = true, late_trunc = false;
	int fd, rc, rflags = flags;
	UG_ERRNO_SAVE;

	if (!atomic_load_explicit(&ug__active, memory_order_relaxed) ||
	    ug__depth)
		return call_real(k, dirfd, path, flags, mode);
	ug__depth++;
	/* Whether the call creates the file decides its owner (the bound
	 * session) and max_files: look before opening. */
	if ((flags & O_CREAT) && !(flags & O_EXCL) &&
	    (ug__st.need_prestat || ug__session_active()))
		exists = fstatat(dirfd, path, &st, 0) == 0;
	/* A thread serving a session must not truncate another session's
	 * file: open without O_TRUNC, check, then truncate. */
	if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY &&
	    ug__session_active()) {
		rflags &= ~O_TRUNC;
		late_trunc = true;
	}
	UG_ERRNO_RESTORE;
	fd = call_real(k, dirfd, path, rflags, mode);
	if (fd < 0) {
		ug__depth--;
		return fd;
	}
	created = (flags & O_CREAT) && ((flags & O_EXCL) || !exists);
	rc = ug__fd_opened(fd, flags, created, op);
	if (rc == 0 && late_trunc && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		rc = real_ftruncate(fd, 0) < 0 ? -errno : 0; /* the O_TRUNC */
	if (rc < 0)
		return undo_open(fd, rc, dirfd, path, created);
	ug__depth--;
	UG_ERRNO_RESTORE;
	return fd;
}

static mode_t va_mode(int flags, va_list ap)
{
	return wants_mode(flags) ? (mode_t)va_arg(ap, int) : 0;
}

#define UG_OPEN_VARIADIC(name, kind)                                           \
	UG_EXPORT int name(const char *path, int flags, ...)                   \
	{                                                                      \
		va_list ap;                                                    \
		mode_t mode;                                                   \
		UG_NEED_REAL(name);                                            \
		va_start(ap, flags);                                           \
		mode = va_mode(flags, ap);                                     \
		va_end(ap);                                                    \
		return ug__open_common(kind, AT_FDCWD, path, flags, mode,      \
				       #name);                                 \
	}
#define UG_OPENAT_VARIADIC(name, kind)                                         \
	UG_EXPORT int name(int dirfd, const char *path, int flags, ...)        \
	{                                                                      \
		va_list ap;                                                    \
		mode_t mode;                                                   \
		UG_NEED_REAL(name);                                            \
		va_start(ap, flags);                                           \
		mode = va_mode(flags, ap);                                     \
		va_end(ap);                                                    \
		return ug__open_common(kind, dirfd, path, flags, mode, #name); \
	}

UG_OPEN_VARIADIC(open, OPEN)
UG_OPEN_VARIADIC(open64, OPEN64)
UG_OPENAT_VARIADIC(openat, OPENAT)
UG_OPENAT_VARIADIC(openat64, OPENAT64)

UG_EXPORT int __open_2(const char *path, int flags)
{
	return ug__open_common(OPEN_2, AT_FDCWD, path, flags, 0, "__open_2");
}

UG_EXPORT int __open64_2(const char *path, int flags)
{
	return ug__open_common(OPEN64_2, AT_FDCWD, path, flags, 0,
			       "__open64_2");
}

UG_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return ug__open_common(OPENAT_2, dirfd, path, flags, 0, "__openat_2");
}

UG_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return ug__open_common(OPENAT64_2, dirfd, path, flags, 0,
			       "__openat64_2");
}

UG_EXPORT int creat(const char *path, mode_t mode)
{
	return ug__open_common(OPEN, AT_FDCWD, path,
			       O_CREAT | O_WRONLY | O_TRUNC, mode, "creat");
}

UG_EXPORT int creat64(const char *path, mode_t mode)
{
	return ug__open_common(OPEN64, AT_FDCWD, path,
			       O_CREAT | O_WRONLY | O_TRUNC, mode, "creat64");
}

/* ---- temporary files --------------------------------------------------------
 * mkstemp opens through libc-internal calls: record the fd it returns.
 */
static int temp_opened(int fd, char *tmpl, int flags, const char *op)
{
	int rc;
	UG_ERRNO_SAVE;

	if (fd < 0 || !atomic_load(&ug__active) || ug__depth)
		return fd;
	ug__depth++;
	rc = ug__fd_opened(fd, O_RDWR | O_CREAT | O_EXCL | flags, true, op);
	if (rc < 0)
		return undo_open(fd, rc, AT_FDCWD, tmpl, true);
	ug__depth--;
	UG_ERRNO_RESTORE;
	return fd;
}

UG_EXPORT int mkstemp(char *tmpl)
{
	return temp_opened(real_mkstemp(tmpl), tmpl, 0, "mkstemp");
}

UG_EXPORT int mkstemp64(char *tmpl)
{
	return temp_opened(real_mkstemp64(tmpl), tmpl, 0, "mkstemp64");
}

UG_EXPORT int mkostemp(char *tmpl, int flags)
{
	return temp_opened(real_mkostemp(tmpl, flags), tmpl, flags, "mkostemp");
}

UG_EXPORT int mkostemp64(char *tmpl, int flags)
{
	return temp_opened(real_mkostemp64(tmpl, flags), tmpl, flags,
			   "mkostemp64");
}

UG_EXPORT int mkstemps(char *tmpl, int suffixlen)
{
	return temp_opened(real_mkstemps(tmpl, suffixlen), tmpl, 0, "mkstemps");
}

UG_EXPORT int mkstemps64(char *tmpl, int suffixlen)
{
	return temp_opened(real_mkstemps64(tmpl, suffixlen), tmpl, 0,
			   "mkstemps64");
}

UG_EXPORT int mkostemps(char *tmpl, int suffixlen, int flags)
{
	return temp_opened(real_mkostemps(tmpl, suffixlen, flags), tmpl, flags,
			   "mkostemps");
}

UG_EXPORT int mkostemps64(char *tmpl, int suffixlen, int flags)
{
	return temp_opened(real_mkostemps64(tmpl, suffixlen, flags), tmpl,
			   flags, "mkostemps64");
}

/* tmpfile: an unnamed file in P_tmpdir; guarded when that is in a root. */
static FILE *tmpfile_opened(FILE *f, const char *op)
{
	UG_ERRNO_SAVE;

	if (!f || !atomic_load(&ug__active) || ug__depth)
		return f;
	ug__depth++;
	ug__fd_opened(fileno(f), O_RDWR, false, op);
	ug__stdio_attached(fileno(f));
	ug__depth--;
	UG_ERRNO_RESTORE;
	return f;
}

UG_EXPORT FILE *tmpfile(void)
{
	return tmpfile_opened(real_tmpfile(), "tmpfile");
}

UG_EXPORT FILE *tmpfile64(void)
{
	return tmpfile_opened(real_tmpfile64(), "tmpfile64");
}
