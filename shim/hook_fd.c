/*
 * fd life: close, close_range, closefrom, dup*, fcntl, flock, fork and the
 * libc syscall() function (Node closes with syscall(SYS_close)).  Every
 * close forgets the fd's record so a reused number starts unknown; the
 * log's fd is never closed or replaced by the host.  Thread-safe.
 */
#include <fcntl.h>
#include <linux/close_range.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "event.h"
#include "hooks.h"
#include "scratch.h"
#include "session.h"

UG_EXPORT int close(int fd)
{
	if (unlikely(ug__log_is_fd(fd)))
		return 0; /* the host believes it closed it; it stays ours */
	if ((unsigned)fd < (unsigned)ug__nfds) {
		UG_ERRNO_SAVE;
		ug__fd_closed(fd);
		ug__session_unbind(fd);
		UG_ERRNO_RESTORE;
	}
	return real_close(fd);
}

static void forget_range(unsigned first, unsigned last)
{
	int top = atomic_load(&ug__fd_hwm);
	unsigned fd;

	if (last > (unsigned)top)
		last = (unsigned)top;
	for (fd = first; fd <= last && fd < (unsigned)ug__nfds; fd++)
		ug__fd_closed((int)fd);
}

UG_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	int lfd = atomic_load(&ug__active) ? ug__st.log_fd : -1;
	int rc;
	UG_ERRNO_SAVE;

	if (flags & CLOSE_RANGE_CLOEXEC || first > last)
		return real_close_range(first, last, flags);
	forget_range(first, last);
	UG_ERRNO_RESTORE;
	if (lfd < 0 || (unsigned)lfd < first || (unsigned)lfd > last)
		return real_close_range(first, last, flags);
	/* leave a hole for the log */
	rc = (unsigned)lfd > first
		 ? real_close_range(first, (unsigned)lfd - 1, flags)
		 : 0;
	if (rc == 0 && (unsigned)lfd < last)
		rc = real_close_range((unsigned)lfd + 1, last, flags);
	return rc;
}

UG_EXPORT void closefrom(int lowfd)
{
	int lfd;

	UG_NEED_REAL(closefrom);
	lfd = atomic_load(&ug__active) ? ug__st.log_fd : -1;
	if (lowfd < 0)
		lowfd = 0;
	forget_range((unsigned)lowfd, ~0u);
	if (lfd < lowfd) {
		real_closefrom(lowfd);
		return;
	}
	if (lfd > lowfd)
		real_close_range((unsigned)lowfd, (unsigned)lfd - 1, 0);
	real_closefrom(lfd + 1);
}

UG_EXPORT int dup(int fd)
{
	int r = real_dup(fd);

	if (r >= 0 && atomic_load_explicit(&ug__active, memory_order_relaxed)) {
		UG_ERRNO_SAVE;
		ug__fd_dup(fd, r);
		UG_ERRNO_RESTORE;
	}
	return r;
}

static int dup_to(int fd, int fd2, int flags, bool three)
{
	int r;

	if (atomic_load_explicit(&ug__active, memory_order_relaxed) &&
	    ug__log_is_fd(fd2) && fd != fd2) {
		UG_ERRNO_SAVE;
		ug__log_evacuate(fd2); /* the host takes that number */
		UG_ERRNO_RESTORE;
	}
	r = three ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
	if (r >= 0 && fd != fd2 &&
	    atomic_load_explicit(&ug__active, memory_order_relaxed)) {
		UG_ERRNO_SAVE;
		ug__fd_dup(fd, fd2);
		UG_ERRNO_RESTORE;
	}
	return r;
}

UG_EXPORT int dup2(int fd, int fd2) { return dup_to(fd, fd2, 0, false); }

UG_EXPORT int dup3(int fd, int fd2, int flags)
{
	return dup_to(fd, fd2, flags, true);
}

static int fcntl_common(int fd, int cmd, void *arg, int (*real)(int, int, ...))
{
	int r = real(fd, cmd, arg);

	if (r < 0 || !atomic_load_explicit(&ug__active, memory_order_relaxed))
		return r;
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		UG_ERRNO_SAVE;
		ug__fd_dup(fd, r);
		UG_ERRNO_RESTORE;
	} else if (cmd == F_SETFL) {
		uintptr_t e = ug__fd_get(fd);
		if (e != UG_FD_UNKNOWN && !(e & 3)) {
			struct ug_desc *d = (struct ug_desc *)e;
			int fl = (int)(intptr_t)arg;
			d->oflags = (d->oflags & ~O_APPEND) | (fl & O_APPEND);
			d->pos_valid = false;
		}
	}
	return r;
}

UG_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	UG_NEED_REAL(fcntl);
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, real_fcntl);
}

UG_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	UG_NEED_REAL(fcntl64);
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(fd, cmd, arg, real_fcntl64);
}

/* PHP's files session handler locks sess_<id> with LOCK_EX for the length
 * of a request: that binds the thread (source "php"). */
UG_EXPORT int flock(int fd, int op)
{
	int r = real_flock(fd, op);

	if (r == 0 && ug__st.php_sessions &&
	    atomic_load_explicit(&ug__active, memory_order_relaxed)) {
		UG_ERRNO_SAVE;
		if (op & LOCK_UN) {
			ug__session_unbind(fd);
		} else if (op & LOCK_EX) {
			char *path = ug__scratch_get();
			bool del;
			int n =
			    path ? ug__fd_path(fd, path, PATH_MAX, &del) : -1;
			const char *base = n > 0 ? strrchr(path, '/') : NULL;

			if (base && strncmp(base + 1, "sess_", 5) == 0)
				ug__session_bind(base + 6, strlen(base + 6),
						 "php", fd);
			ug__scratch_put(path);
		}
		UG_ERRNO_RESTORE;
	}
	return r;
}

UG_EXPORT pid_t fork(void)
{
	/* the pthread_atfork handlers (init.c) keep our state consistent */
	return real_fork();
}

/* ---- syscall(): the libc function, not the instruction --------------------
 */

UG_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int i;

	UG_NEED_REAL(syscall);
	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (likely(!atomic_load_explicit(&ug__active, memory_order_relaxed)))
		return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	switch (nr) {
	case SYS_close:
		return close((int)a[0]);
	case SYS_close_range:
		return close_range((unsigned)a[0], (unsigned)a[1], (int)a[2]);
	case SYS_write:
		return write((int)a[0], (const void *)a[1], (size_t)a[2]);
	case SYS_pwrite64:
		return pwrite64((int)a[0], (const void *)a[1], (size_t)a[2],
				(off64_t)a[3]);
	case SYS_writev:
		return writev((int)a[0], (const struct iovec *)a[1], (int)a[2]);
	case SYS_pwritev:
		return pwritev64((int)a[0], (const struct iovec *)a[1],
				 (int)a[2], (off64_t)a[3]);
	case SYS_pwritev2:
		return pwritev64v2((int)a[0], (const struct iovec *)a[1],
				   (int)a[2], (off64_t)a[3], (int)a[5]);
	case SYS_open:
		return ug__open_common(0, AT_FDCWD, (const char *)a[0],
				       (int)a[1], (mode_t)a[2], "syscall");
	case SYS_openat:
		return ug__open_common(2, (int)a[0], (const char *)a[1],
				       (int)a[2], (mode_t)a[3], "syscall");
	case SYS_creat:
		return creat((const char *)a[0], (mode_t)a[1]);
	case SYS_dup:
		return dup((int)a[0]);
	case SYS_dup2:
		return dup2((int)a[0], (int)a[1]);
	case SYS_dup3:
		return dup3((int)a[0], (int)a[1], (int)a[2]);
	case SYS_ftruncate:
		return ftruncate64((int)a[0], (off64_t)a[1]);
	case SYS_truncate:
		return truncate64((const char *)a[0], (off64_t)a[1]);
	case SYS_fallocate:
		return fallocate64((int)a[0], (int)a[1], (off64_t)a[2],
				   (off64_t)a[3]);
	case SYS_sendfile:
		return sendfile64((int)a[0], (int)a[1], (off64_t *)a[2],
				  (size_t)a[3]);
	case SYS_copy_file_range:
		return copy_file_range((int)a[0], (off64_t *)a[1], (int)a[2],
				       (off64_t *)a[3], (size_t)a[4],
				       (unsigned)a[5]);
	case SYS_splice:
		return splice((int)a[0], (off64_t *)a[1], (int)a[2],
			      (off64_t *)a[3], (size_t)a[4], (unsigned)a[5]);
	case SYS_rename:
		return rename((const char *)a[0], (const char *)a[1]);
	case SYS_renameat:
		return renameat((int)a[0], (const char *)a[1], (int)a[2],
				(const char *)a[3]);
	case SYS_renameat2:
		return renameat2((int)a[0], (const char *)a[1], (int)a[2],
				 (const char *)a[3], (unsigned)a[4]);
	case SYS_link:
		return link((const char *)a[0], (const char *)a[1]);
	case SYS_linkat:
		return linkat((int)a[0], (const char *)a[1], (int)a[2],
			      (const char *)a[3], (int)a[4]);
	case SYS_unlink:
		return unlink((const char *)a[0]);
	case SYS_unlinkat:
		return unlinkat((int)a[0], (const char *)a[1], (int)a[2]);
	case SYS_io_uring_setup:
		if (ug__st.cfg.io_uring_block) {
			errno = ENOSYS;
			return -1;
		}
		break;
	}
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
