/*
 * Errno fidelity: every interposed function, called with ordinary failures
 * (EBADF, ENOENT, EACCES, EISDIR, EINVAL, EINTR, ENOSPC from a full tmpfs,
 * ESPIPE, ...) and on success, must give the caller exactly the return value
 * and errno that libc gives without the shim.  Success rows start with
 * errno = 1234 and print errno afterwards: a pass-through path must not
 * touch it.
 *
 * Method: the same table runs twice, in a child without LD_PRELOAD and in a
 * child with the shim (config: the "g" half of the scratch tree is a guarded
 * root with caps far above what the rows write, "g/full" a nested root on a
 * 64 KiB tmpfs); each row runs once inside the root (g) and once outside (u).
 * Each child prints "row ret=R errno=NAME" lines; the two outputs must be
 * identical.  fds and pids print as "fd"/"pid" (the shim holds a few fds of
 * its own, so numbers may differ; that is not a contract).
 * ENOSPC rows need root (a private mount namespace with a tmpfs); without it
 * they print "skipped" in both runs.  EACCES rows run in a grandchild that
 * drops to uid 65534 (root only; skipped otherwise).
 * A mismatch prints both lines.  Exit 0 pass, 1 fail, 77 skip.
 */
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/falloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* the rows pass bad arguments on purpose */
#pragma GCC diagnostic ignored "-Wstringop-overread"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wformat-truncation"
#pragma GCC diagnostic ignored "-Wunused-result"
#pragma GCC diagnostic ignored "-Wnonnull"

#include "libc_names.h"

static int out = -1;         /* result file */
static char W[PATH_MAX];     /* the current half: .../g or .../u */
static const char *where;    /* "g" or "u" */
static bool have_full;       /* W/full is a 64 KiB tmpfs */

enum kind { K_INT, K_FD, K_PTR, K_PID };

static void put(const char *row, enum kind k, long long r, int e)
{
	char rv[32];

	if (k == K_FD && r >= 0)
		strcpy(rv, "fd");
	else if (k == K_PID && r > 0)
		strcpy(rv, "pid");
	else if (k == K_PTR)
		strcpy(rv, r ? "ptr" : "NULL");
	else
		snprintf(rv, sizeof(rv), "%lld", r);
	dprintf(out, "%s/%s ret=%s errno=%s\n", where, row, rv,
		e == 1234 ? "unchanged" : e == 0 ? "0" : strerrorname_np(e));
}

/* Runs expr with errno = 1234 first; records its value and errno. */
#define ROW(name, kind, expr)                                                  \
	do {                                                                   \
		long long r_;                                                  \
		int e_;                                                        \
		errno = 1234;                                                  \
		r_ = (long long)(expr);                                        \
		e_ = errno;                                                    \
		put(name, kind, r_, e_);                                       \
	} while (0)
#define ROWP(name, expr) ROW(name, K_PTR, (intptr_t)(expr))

static const char *p(const char *rel)
{
	static char b[8][PATH_MAX];
	static int n;
	char *s = b[n++ % 8];

	snprintf(s, PATH_MAX, "%s/%s", W, rel);
	return s;
}

static void mk(const char *rel, size_t n)
{
	int fd = open(p(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char b[4096];

	memset(b, 'x', sizeof(b));
	while (n) {
		size_t k = n < sizeof(b) ? n : sizeof(b);
		if (write(fd, b, k) != (ssize_t)k)
			break;
		n -= k;
	}
	close(fd);
}

static int ro(const char *rel) { return open(p(rel), O_RDONLY); }
static int rw(const char *rel)
{
	return open(p(rel), O_RDWR | O_CREAT, 0644);
}
/* A closed fd number (a hole below the next free one). */
static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY);
	close(fd);
	return fd;
}

static char big[100000];

/* ---- EINTR: a blocking call interrupted by SIGALRM without SA_RESTART ---- */

static void on_alarm(int sig) { (void)sig; }

static void arm(void)
{
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A pipe whose write end is full (the next blocking write blocks). */
static void full_pipe(int pp[2])
{
	char b[4096] = {0};
	if (pipe(pp) < 0)
		abort();
	fcntl(pp[1], F_SETFL, O_NONBLOCK);
	while (write(pp[1], b, sizeof(b)) > 0)
		;
	while (write(pp[1], b, 1) > 0)
		;
	fcntl(pp[1], F_SETFL, 0);
}

static void eintr_rows(void)
{
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	char b[64];
	struct iovec v = {b, sizeof(b)};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	int pp[2], sp[2];

	sigaction(SIGALRM, &sa, NULL);
	if (pipe(pp) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		abort();
	arm(); ROW("eintr/read", K_INT, read(pp[0], b, sizeof(b)));
	arm(); ROW("eintr/__read_chk", K_INT, __read_chk(pp[0], b, 8, sizeof(b)));
	arm(); ROW("eintr/readv", K_INT, readv(pp[0], &v, 1));
	arm(); ROW("eintr/recv", K_INT, recv(sp[0], b, sizeof(b), 0));
	arm(); ROW("eintr/__recv_chk", K_INT, __recv_chk(sp[0], b, 8, sizeof(b), 0));
	arm(); ROW("eintr/recvfrom", K_INT, recvfrom(sp[0], b, sizeof(b), 0, NULL, NULL));
	arm(); ROW("eintr/__recvfrom_chk", K_INT,
		   __recvfrom_chk(sp[0], b, 8, sizeof(b), 0, NULL, NULL));
	arm(); ROW("eintr/recvmsg", K_INT, recvmsg(sp[0], &m, 0));
	{
		int l = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un { sa_family_t f; char path[108]; } a = {AF_UNIX, ""};
		snprintf(a.path, sizeof(a.path), "%s", p("sock"));
		bind(l, (struct sockaddr *)&a, sizeof(a));
		listen(l, 1);
		arm(); ROW("eintr/accept", K_INT, accept(l, NULL, NULL));
		arm(); ROW("eintr/accept4", K_INT, accept4(l, NULL, NULL, SOCK_CLOEXEC));
		close(l);
		unlink(p("sock"));
	}
	close(pp[0]);
	close(pp[1]);
	full_pipe(pp);
	arm(); ROW("eintr/write", K_INT, write(pp[1], b, 1));
	arm(); ROW("eintr/writev", K_INT, writev(pp[1], &v, 1));
	arm(); ROW("eintr/dprintf", K_INT, dprintf(pp[1], "x"));
	{
		int in = open("/dev/zero", O_RDONLY);
		arm(); ROW("eintr/splice", K_INT, splice(in, NULL, pp[1], NULL, 10, 0));
		arm(); ROW("eintr/sendfile", K_INT, sendfile(pp[1], in, NULL, 10));
		close(in);
	}
	close(pp[0]);
	close(pp[1]);
	close(sp[0]);
	close(sp[1]);
	signal(SIGALRM, SIG_DFL);
}

/* ---- open family --------------------------------------------------------- */

static void open_rows(void)
{
	int d = open(W, O_RDONLY | O_DIRECTORY), cf = closed_fd();
	char t[PATH_MAX];
	FILE *f;

#define OPENS(nm, call_missing, call_dir, call_ok, call_inval)                 \
	ROW(nm "/ENOENT", K_FD, call_missing);                                 \
	ROW(nm "/EISDIR", K_FD, call_dir);                                     \
	ROW(nm "/ok", K_FD, call_ok);                                          \
	ROW(nm "/EINVAL", K_FD, call_inval)
	OPENS("open", open(p("no/x"), O_RDONLY), open(W, O_WRONLY),
	      open(p("o1"), O_CREAT | O_WRONLY, 0644),
	      open(W, O_TMPFILE | O_RDONLY, 0600));
	OPENS("open64", open64(p("no/x"), O_CREAT | O_WRONLY, 0644),
	      open64(W, O_RDWR), open64(p("o2"), O_CREAT | O_RDWR | O_TRUNC, 0644),
	      open64(p("o2"), O_RDWR | O_TMPFILE, 0644));
	OPENS("openat", openat(d, "no/x", O_RDONLY), openat(d, ".", O_WRONLY),
	      openat(d, "o3", O_CREAT | O_WRONLY | O_APPEND, 0644),
	      openat(d, "o3", O_RDONLY | O_TMPFILE, 0644));
	OPENS("openat64", openat64(d, "no/x", O_RDONLY), openat64(d, ".", O_RDWR),
	      openat64(d, "o4", O_CREAT | O_EXCL | O_WRONLY, 0644),
	      openat64(d, ".", O_RDONLY | O_TMPFILE, 0644));
	ROW("openat/EBADF", K_FD, openat(-1, "o3", O_RDONLY));
	ROW("openat/EBADF-closed", K_FD, openat(cf, "o3", O_WRONLY));
	ROW("openat/ENOTDIR", K_FD, openat(d, "o3/x", O_RDONLY));
	ROW("openat64/EBADF", K_FD, openat64(-1, "o3", O_RDWR));
	ROW("open/EEXIST", K_FD, open(p("o1"), O_CREAT | O_EXCL | O_WRONLY, 0644));
	ROW("open/ELOOP", K_FD, (symlink("o1", p("lnk")), open(p("lnk"), O_WRONLY | O_NOFOLLOW)));
	ROW("open/ok-tmpfile", K_FD, open(W, O_TMPFILE | O_RDWR, 0600));
	ROW("open/ok-trunc", K_FD, open(p("o1"), O_WRONLY | O_TRUNC));
	ROW("__open_2/ENOENT", K_FD, __open_2(p("no/x"), O_RDONLY));
	ROW("__open_2/EISDIR", K_FD, __open_2(W, O_WRONLY));
	ROW("__open_2/ok", K_FD, __open_2(p("o1"), O_WRONLY));
	ROW("__open64_2/ENOENT", K_FD, __open64_2(p("no/x"), O_WRONLY));
	ROW("__open64_2/ok", K_FD, __open64_2(p("o1"), O_RDWR));
	ROW("__openat_2/EBADF", K_FD, __openat_2(-1, "o1", O_RDONLY));
	ROW("__openat_2/ok", K_FD, __openat_2(d, "o1", O_WRONLY | O_APPEND));
	ROW("__openat64_2/ENOENT", K_FD, __openat64_2(d, "no", O_RDONLY));
	ROW("__openat64_2/ok", K_FD, __openat64_2(d, "o1", O_RDWR));
	ROW("creat/ENOENT", K_FD, creat(p("no/x"), 0644));
	ROW("creat/EISDIR", K_FD, creat(W, 0644));
	ROW("creat/ok", K_FD, creat(p("c1"), 0644));
	ROW("creat64/ENOENT", K_FD, creat64(p("no/x"), 0644));
	ROW("creat64/ok", K_FD, creat64(p("c2"), 0644));
#define TMPL(name, call, pattern)                                              \
	snprintf(t, sizeof(t), "%s", p(pattern));                              \
	ROW(name, K_FD, call)
	TMPL("mkstemp/EINVAL", mkstemp(t), "tXXXX");
	TMPL("mkstemp/ENOENT", mkstemp(t), "no/tXXXXXX");
	TMPL("mkstemp/ok", mkstemp(t), "tXXXXXX");
	TMPL("mkstemp64/EINVAL", mkstemp64(t), "tXXXXX");
	TMPL("mkstemp64/ok", mkstemp64(t), "tXXXXXX");
	TMPL("mkostemp/ENOENT", mkostemp(t, O_CLOEXEC), "no/tXXXXXX");
	TMPL("mkostemp/ok", mkostemp(t, O_CLOEXEC | O_APPEND), "tXXXXXX");
	TMPL("mkostemp64/EINVAL", mkostemp64(t, 0), "t");
	TMPL("mkostemp64/ok", mkostemp64(t, O_CLOEXEC), "tXXXXXX");
	TMPL("mkstemps/EINVAL", mkstemps(t, 10), "tXXXXXX.c");
	TMPL("mkstemps/ok", mkstemps(t, 2), "tXXXXXX.c");
	TMPL("mkstemps64/EINVAL", mkstemps64(t, 3), "tXXXXXX.c");
	TMPL("mkstemps64/ok", mkstemps64(t, 2), "tXXXXXX.c");
	TMPL("mkostemps/ENOENT", mkostemps(t, 2, 0), "no/tXXXXXX.c");
	TMPL("mkostemps/ok", mkostemps(t, 2, O_CLOEXEC), "tXXXXXX.c");
	TMPL("mkostemps64/EINVAL", mkostemps64(t, 0, 0), "tXXXXX");
	TMPL("mkostemps64/ok", mkostemps64(t, 2, 0), "tXXXXXX.c");
	ROWP("tmpfile/ok", f = tmpfile());
	if (f)
		fclose(f);
	ROWP("tmpfile64/ok", f = tmpfile64());
	if (f)
		fclose(f);
	close(d);
}

/* ---- data ----------------------------------------------------------------- */

static void data_rows(void)
{
	int fd = rw("w1"), rd, cf = closed_fd(), pp[2], src;
	char b[8] = "abcdefg";
	struct iovec v[2] = {{b, 4}, {b + 4, 3}};
	off_t o;
	off64_t o64;

	mk("src", 5000);
	rd = ro("w1");
	if (pipe(pp) < 0)
		abort();
#define WR(nm, ok_call, bad_call, cl_call, rd_call)                            \
	ROW(nm "/ok", K_INT, ok_call);                                         \
	ROW(nm "/EBADF", K_INT, bad_call);                                     \
	ROW(nm "/EBADF-closed", K_INT, cl_call);                               \
	ROW(nm "/EBADF-rdonly", K_INT, rd_call)
	WR("write", write(fd, b, 7), write(-1, b, 7), write(cf, b, 7),
	   write(rd, b, 7));
	ROW("write/ok-zero", K_INT, write(fd, b, 0));
	ROW("write/EFAULT", K_INT, write(fd, (void *)8, 7));
	WR("pwrite", pwrite(fd, b, 7, 100), pwrite(-1, b, 7, 0),
	   pwrite(cf, b, 7, 0), pwrite(rd, b, 7, 0));
	ROW("pwrite/EINVAL", K_INT, pwrite(fd, b, 7, -1));
	ROW("pwrite/ESPIPE", K_INT, pwrite(pp[1], b, 7, 0));
	WR("pwrite64", pwrite64(fd, b, 7, 200), pwrite64(-1, b, 7, 0),
	   pwrite64(cf, b, 7, 0), pwrite64(rd, b, 7, 0));
	ROW("pwrite64/EINVAL", K_INT, pwrite64(fd, b, 7, -5));
	WR("writev", writev(fd, v, 2), writev(-1, v, 2), writev(cf, v, 2),
	   writev(rd, v, 2));
	ROW("writev/EINVAL", K_INT, writev(fd, v, -1));
	ROW("writev/EINVAL-max", K_INT, writev(fd, v, IOV_MAX + 1));
	WR("pwritev", pwritev(fd, v, 2, 300), pwritev(-1, v, 2, 0),
	   pwritev(cf, v, 2, 0), pwritev(rd, v, 2, 0));
	ROW("pwritev/EINVAL", K_INT, pwritev(fd, v, 2, -1));
	WR("pwritev64", pwritev64(fd, v, 2, 400), pwritev64(-1, v, 2, 0),
	   pwritev64(cf, v, 2, 0), pwritev64(rd, v, 2, 0));
	WR("pwritev2", pwritev2(fd, v, 2, -1, 0), pwritev2(-1, v, 2, 0, 0),
	   pwritev2(cf, v, 2, 0, 0), pwritev2(rd, v, 2, 0, 0));
	ROW("pwritev2/EOPNOTSUPP", K_INT, pwritev2(fd, v, 2, 0, 0x4000));
	ROW("pwritev2/ok-append", K_INT, pwritev2(fd, v, 2, 0, RWF_APPEND));
	ROW("pwritev2/EINVAL", K_INT, pwritev2(fd, v, 2, -7, 0));
	WR("pwritev64v2", pwritev64v2(fd, v, 2, 500, 0),
	   pwritev64v2(-1, v, 2, 0, 0), pwritev64v2(cf, v, 2, 0, 0),
	   pwritev64v2(rd, v, 2, 0, 0));
	src = ro("src");
	o = 0;
	o64 = 0;
	WR("sendfile", sendfile(fd, src, &o, 100), sendfile(-1, src, NULL, 10),
	   sendfile(fd, cf, NULL, 10), sendfile(rd, src, NULL, 10));
	WR("sendfile64", sendfile64(fd, src, &o64, 100),
	   sendfile64(fd, -1, NULL, 10), sendfile64(cf, src, NULL, 10),
	   sendfile64(rd, src, NULL, 10));
	o64 = 0;
	WR("copy_file_range", copy_file_range(src, &o64, fd, NULL, 1 << 20, 0),
	   copy_file_range(-1, NULL, fd, NULL, 10, 0),
	   copy_file_range(src, NULL, cf, NULL, 10, 0),
	   copy_file_range(src, NULL, rd, NULL, 10, 0));
	ROW("copy_file_range/EINVAL", K_INT,
	    copy_file_range(src, NULL, fd, NULL, 10, 1));
	ROW("copy_file_range/ok-eof", K_INT,
	    copy_file_range(src, &(off64_t){1 << 20}, fd, NULL, 10, 0));
	write(pp[1], b, 7);
	WR("splice", splice(pp[0], NULL, fd, NULL, 7, 0),
	   splice(-1, NULL, fd, NULL, 7, 0), splice(pp[0], NULL, cf, NULL, 7, 0),
	   splice(pp[0], NULL, rd, NULL, 7, 0));
	ROW("splice/EINVAL", K_INT, splice(src, NULL, fd, NULL, 7, 0));
	ROW("lseek/ok", K_INT, lseek(fd, 10, SEEK_SET));
	ROW("lseek/ok-end", K_INT, lseek(fd, 0, SEEK_END));
	ROW("lseek/EBADF", K_INT, lseek(-1, 0, SEEK_SET));
	ROW("lseek/EINVAL", K_INT, lseek(fd, 0, 99));
	ROW("lseek/EINVAL-neg", K_INT, lseek(fd, -100000, SEEK_SET));
	ROW("lseek/ESPIPE", K_INT, lseek(pp[0], 0, SEEK_SET));
	ROW("lseek64/ok", K_INT, lseek64(fd, 3, SEEK_CUR));
	ROW("lseek64/EBADF", K_INT, lseek64(cf, 0, SEEK_SET));
	ROW("lseek64/ENXIO", K_INT, lseek64(fd, 1 << 20, SEEK_DATA));
	{ /* EISDIR: read of a directory */
		int d = open(W, O_RDONLY | O_DIRECTORY);
		ROW("read/EISDIR", K_INT, read(d, b, 4));
		ROW("write/EBADF-dir", K_INT, write(d, b, 4));
		close(d);
	}
	ROW("read/ok", K_INT, read(src, b, 4));
	ROW("read/EBADF", K_INT, read(-1, b, 4));
	ROW("readv/EINVAL", K_INT, readv(src, v, -1));
	ROW("readv/ok", K_INT, readv(src, v, 2));
	close(src);
	close(rd);
	close(fd);
	close(pp[0]);
	close(pp[1]);
	{
		struct stat s_;
		ROW("write/size-on-disk", K_INT, stat(p("w1"), &s_) == 0 ? s_.st_size : -1);
	}
}

/* ---- stdio ---------------------------------------------------------------- */

static void stdio_call_rows(const char *tag, FILE *f)
{
	char row[64];
	va_list none;

#define SROW(op, expr)                                                         \
	snprintf(row, sizeof(row), "%s/%s", op, tag);                          \
	ROW(row, K_INT, expr)
	SROW("fwrite", fwrite("abc", 1, 3, f));
	SROW("fwrite_unlocked", fwrite_unlocked("abc", 1, 3, f));
	SROW("fputs", fputs("abc", f));
	SROW("fputs_unlocked", fputs_unlocked("abc", f));
	SROW("fputc", fputc('a', f));
	SROW("fputc_unlocked", fputc_unlocked('a', f));
	SROW("putc", putc('a', f));
	SROW("putc_unlocked", putc_unlocked('a', f));
	SROW("_IO_putc", _IO_putc('a', f));
	SROW("fprintf", fprintf(f, "%d", 42));
	SROW("__fprintf_chk", __fprintf_chk(f, 1, "%d", 42));
	(void)none;
	SROW("__overflow", __overflow(f, 'z'));
	SROW("fflush", fflush(f));
	SROW("fflush_unlocked", fflush_unlocked(f));
	SROW("ferror", ferror(f));
}

static int vf(FILE *f, int chk, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = chk ? __vfprintf_chk(f, 1, fmt, ap) : vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}
static int vd(int fd, int chk, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = chk ? __vdprintf_chk(fd, 1, fmt, ap) : vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}
static int vp(int chk, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = chk ? __vprintf_chk(1, fmt, ap) : vprintf(fmt, ap);
	va_end(ap);
	return r;
}

static void stdio_rows(void)
{
	FILE *f;
	int fd, so;

	ROWP("fopen/ENOENT", fopen(p("no/x"), "r"));
	ROWP("fopen/EISDIR", fopen(W, "w"));
	ROWP("fopen/EINVAL", fopen(p("s1"), "z"));
	ROWP("fopen64/ENOENT", fopen64(p("no/x"), "w"));
	ROWP("fopen64/EISDIR", fopen64(W, "a"));
	ROWP("fdopen/EBADF", fdopen(-1, "w"));
	fd = ro("w1");
	ROWP("fdopen/EINVAL", fdopen(fd, "w"));
	close(fd);
	ROWP("freopen/ENOENT", freopen(p("no/x"), "w", fopen(p("s0"), "w")));
	ROWP("freopen64/EISDIR", freopen64(W, "w", fopen(p("s0"), "w")));

	ROWP("fopen/ok", f = fopen(p("s1"), "w"));
	stdio_call_rows("ok", f);
	ROW("vfprintf/ok", K_INT, vf(f, 0, "%s", "x"));
	ROW("__vfprintf_chk/ok", K_INT, vf(f, 1, "%s", "x"));
	ROW("fclose/ok", K_INT, fclose(f));
	ROWP("fopen64/ok", f = fopen64(p("s2"), "a+"));
	ROWP("freopen/ok", f = freopen(p("s3"), "w", f));
	ROWP("freopen64/ok", f = freopen64(p("s4"), "w+", f));
	ROW("fclose/ok2", K_INT, fclose(f));
	fd = rw("s5");
	ROWP("fdopen/ok", f = fdopen(fd, "w"));
	ROW("fputs/ok-fdopen", K_INT, fputs("hello", f));
	ROW("fclose/ok3", K_INT, fclose(f));
	/* a read-only stream: writes fail with EBADF */
	ROWP("fopen/ok-r", f = fopen(p("s1"), "r"));
	stdio_call_rows("EBADF", f);
	ROW("vfprintf/EBADF", K_INT, vf(f, 0, "%s", "x"));
	ROW("fclose/ok-r", K_INT, fclose(f));
	/* fd-level printf */
	fd = rw("s6");
	ROW("dprintf/ok", K_INT, dprintf(fd, "%d\n", 7));
	ROW("dprintf/EBADF", K_INT, dprintf(-1, "%d\n", 7));
	ROW("vdprintf/ok", K_INT, vd(fd, 0, "%d", 7));
	ROW("vdprintf/EBADF", K_INT, vd(closed_fd(), 0, "%d", 7));
	ROW("__dprintf_chk/ok", K_INT, __dprintf_chk(fd, 1, "%d", 7));
	ROW("__dprintf_chk/EBADF", K_INT, __dprintf_chk(-1, 1, "%d", 7));
	ROW("__vdprintf_chk/ok", K_INT, vd(fd, 1, "%d", 7));
	ROW("__vdprintf_chk/EBADF", K_INT, vd(-1, 1, "%d", 7));
	close(fd);
	/* stdout-based names: stdout goes to a file in W, then a closed fd 1 */
	fflush(stdout);
	so = dup(1);
	fd = rw("stdout");
	dup2(fd, 1);
	close(fd);
	/* BUG: puts on a guarded (or not yet classified) stdout returned 1;
	 * glibc returns MIN(INT_MAX, strlen + 1).  Fix in shim/hook_stdio.c
	 * puts() (see the hardening report). */
	ROW("puts/ok", K_INT, puts("x"));
	ROW("putchar/ok", K_INT, putchar('x'));
	ROW("putchar_unlocked/ok", K_INT, putchar_unlocked('x'));
	ROW("printf/ok", K_INT, printf("%d", 1));
	ROW("__printf_chk/ok", K_INT, __printf_chk(1, "%d", 1));
	ROW("vprintf/ok", K_INT, vp(0, "%d", 1));
	ROW("__vprintf_chk/ok", K_INT, vp(1, "%d", 1));
	ROW("fflush/ok-stdout", K_INT, fflush(stdout));
	close(1);
	ROW("puts/buffered", K_INT, puts("x"));
	ROW("fflush/EBADF-stdout", K_INT, fflush(stdout));
	clearerr(stdout);
	ROW("printf/buffered", K_INT, printf("%4000d", 1));
	ROW("printf/EBADF", K_INT, printf("%8000d", 1));
	clearerr(stdout);
	ROW("fflush/NULL", K_INT, fflush(NULL));
	dup2(so, 1);
	close(so);
	clearerr(stdout);
}

/* ---- size ------------------------------------------------------------------ */

static void size_rows(void)
{
	int fd = rw("z1"), rd = ro("z1"), cf = closed_fd();

#define SZ(nm, call_ok, call_badf, call_inval, call_rd)                        \
	ROW(nm "/ok", K_INT, call_ok);                                         \
	ROW(nm "/EBADF", K_INT, call_badf);                                    \
	ROW(nm "/EINVAL", K_INT, call_inval);                                  \
	ROW(nm "/rdonly", K_INT, call_rd)
	SZ("ftruncate", ftruncate(fd, 1000), ftruncate(-1, 10),
	   ftruncate(fd, -1), ftruncate(rd, 10));
	SZ("ftruncate64", ftruncate64(fd, 50), ftruncate64(cf, 10),
	   ftruncate64(fd, -9), ftruncate64(rd, 10));
	SZ("fallocate", fallocate(fd, 0, 0, 4096), fallocate(-1, 0, 0, 10),
	   fallocate(fd, 0, 0, 0), fallocate(rd, 0, 0, 10));
	ROW("fallocate/EOPNOTSUPP", K_INT, fallocate(fd, 0x40000, 0, 10));
	ROW("fallocate/ok-keep", K_INT, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192));
	SZ("fallocate64", fallocate64(fd, 0, 4096, 4096), fallocate64(cf, 0, 0, 10),
	   fallocate64(fd, 0, -1, 10), fallocate64(rd, 0, 0, 10));
	SZ("posix_fallocate", posix_fallocate(fd, 0, 9000),
	   posix_fallocate(-1, 0, 10), posix_fallocate(fd, 0, -1),
	   posix_fallocate(rd, 0, 10));
	SZ("posix_fallocate64", posix_fallocate64(fd, 100, 100),
	   posix_fallocate64(cf, 0, 10), posix_fallocate64(fd, -1, 10),
	   posix_fallocate64(rd, 0, 10));
	ROW("truncate/ok", K_INT, truncate(p("z1"), 77));
	ROW("truncate/ENOENT", K_INT, truncate(p("no/x"), 10));
	ROW("truncate/EISDIR", K_INT, truncate(W, 10));
	ROW("truncate/EINVAL", K_INT, truncate(p("z1"), -1));
	ROW("truncate64/ok", K_INT, truncate64(p("z1"), 0));
	ROW("truncate64/ENOENT", K_INT, truncate64(p("nope"), 10));
	ROW("truncate64/ENOTDIR", K_INT, truncate64(p("z1/x"), 10));
	close(fd);
	close(rd);
}

/* ---- names ------------------------------------------------------------------ */

static void name_rows(void)
{
	int d = open(W, O_RDONLY | O_DIRECTORY), fd;

	mk("n1", 10);
	mk("n2", 20);
	mkdir(p("nd"), 0755);
	mkdir(p("nd2"), 0755);
	mk("nd2/f", 5);
	ROW("rename/ENOENT", K_INT, rename(p("no"), p("n3")));
	ROW("rename/EISDIR", K_INT, rename(p("n1"), p("nd")));
	ROW("rename/ENOTDIR", K_INT, rename(p("nd"), p("n1")));
	ROW("rename/EINVAL", K_INT, rename(p("nd"), p("nd/sub")));
	ROW("rename/ENOTEMPTY", K_INT, rename(p("nd"), p("nd2")));
	ROW("rename/ok", K_INT, rename(p("n2"), p("n3")));
	ROW("rename/ok-same", K_INT, rename(p("n3"), p("n3")));
	ROW("renameat/EBADF", K_INT, renameat(-1, "n3", d, "n4"));
	ROW("renameat/ok", K_INT, renameat(d, "n3", d, "n4"));
	ROW("renameat2/EINVAL", K_INT, renameat2(d, "n4", d, "n5", 0x80));
	ROW("renameat2/EEXIST", K_INT, renameat2(d, "n4", d, "n1", RENAME_NOREPLACE));
	ROW("renameat2/ok", K_INT, renameat2(d, "n4", d, "n1", RENAME_EXCHANGE));
	ROW("link/ENOENT", K_INT, link(p("no"), p("l1")));
	ROW("link/EEXIST", K_INT, link(p("n1"), p("n4")));
	ROW("link/EPERM", K_INT, link(p("nd"), p("l1")));
	ROW("link/ok", K_INT, link(p("n1"), p("l1")));
	ROW("linkat/EBADF", K_INT, linkat(-1, "n1", d, "l2", 0));
	ROW("linkat/EINVAL", K_INT, linkat(d, "n1", d, "l2", 0x8000000));
	ROW("linkat/ok", K_INT, linkat(d, "n1", d, "l2", 0));
	fd = open(W, O_TMPFILE | O_RDWR, 0600);
	ROW("linkat/ok-tmpfile", K_INT, linkat(fd, "", d, "l3", AT_EMPTY_PATH));
	ROW("linkat/ENOENT-empty", K_INT, linkat(fd, "", d, "l4", 0));
	close(fd);
	ROW("unlink/ENOENT", K_INT, unlink(p("no")));
	ROW("unlink/EISDIR", K_INT, unlink(p("nd")));
	ROW("unlink/ok", K_INT, unlink(p("l1")));
	ROW("unlinkat/EBADF", K_INT, unlinkat(-1, "l2", 0));
	ROW("unlinkat/EINVAL", K_INT, unlinkat(d, "l2", 0x1));
	ROW("unlinkat/ENOTEMPTY", K_INT, unlinkat(d, "nd2", AT_REMOVEDIR));
	ROW("unlinkat/ok", K_INT, unlinkat(d, "l2", 0));
	ROW("unlinkat/ok-dir", K_INT, unlinkat(d, "nd", AT_REMOVEDIR));
	close(d);
}

/* ---- fd life ------------------------------------------------------------------ */

static void fd_rows(void)
{
	int fd = rw("f1"), cf = closed_fd(), st;
	pid_t pid;

	ROW("close/EBADF", K_INT, close(-1));
	ROW("close/EBADF-closed", K_INT, close(cf));
	ROW("close/ok", K_INT, close(dup(fd)));
	ROW("close_range/EINVAL", K_INT, close_range(10, 5, 0));
	ROW("close_range/EINVAL-flags", K_INT, close_range(800, 801, 0x100));
	ROW("close_range/ok", K_INT, close_range(700, 710, 0));
	ROW("closefrom/ok", K_INT, (closefrom(800), 0));
	ROW("dup/EBADF", K_INT, dup(-1));
	ROW("dup/ok", K_FD, dup(fd));
	ROW("dup2/EBADF", K_INT, dup2(cf, 50));
	ROW("dup2/EBADF-neg", K_INT, dup2(fd, -1));
	ROW("dup2/ok-same", K_INT, dup2(fd, fd) == fd);
	ROW("dup2/ok", K_INT, dup2(fd, 60));
	ROW("dup3/EINVAL", K_INT, dup3(fd, fd, 0));
	ROW("dup3/EINVAL-flags", K_INT, dup3(fd, 61, 0x4));
	ROW("dup3/ok", K_INT, dup3(fd, 61, O_CLOEXEC));
	ROW("fcntl/EBADF", K_INT, fcntl(-1, F_GETFD));
	ROW("fcntl/EINVAL", K_INT, fcntl(fd, 99999));
	ROW("fcntl/ok-dupfd", K_INT, fcntl(fd, F_DUPFD, 100) >= 100);
	ROW("fcntl/ok-getfl", K_INT, fcntl(fd, F_GETFL));
	ROW("fcntl/ok-setfl", K_INT, fcntl(fd, F_SETFL, O_APPEND));
	ROW("fcntl64/EBADF", K_INT, fcntl64(cf, F_GETFL));
	ROW("fcntl64/ok", K_INT, fcntl64(fd, F_DUPFD_CLOEXEC, 110) >= 110);
	ROW("fcntl64/EINVAL", K_INT, fcntl64(fd, F_DUPFD, -1));
	ROW("flock/EBADF", K_INT, flock(-1, LOCK_EX));
	ROW("flock/EINVAL", K_INT, flock(fd, 0));
	ROW("flock/ok", K_INT, flock(fd, LOCK_EX));
	ROW("flock/ok-un", K_INT, flock(fd, LOCK_UN));
	pid = 0;
	ROW("fork/ok", K_PID, (pid = fork()) == 0 ? (_exit(0), 0) : pid);
	waitpid(pid, &st, 0);
	ROW("syscall/EBADF-write", K_INT, syscall(SYS_write, -1, "x", 1));
	ROW("syscall/EBADF-close", K_INT, syscall(SYS_close, -1));
	ROW("syscall/ENOENT-openat", K_INT, syscall(SYS_openat, AT_FDCWD, p("no/x"), O_RDONLY, 0));
	ROW("syscall/ok-write", K_INT, syscall(SYS_write, fd, "x", 1));
	ROW("syscall/ok-pwrite64", K_INT, syscall(SYS_pwrite64, fd, "xy", 2, 10));
	ROW("syscall/ok-getppid", K_INT, syscall(SYS_getppid) == getppid());
	ROW("syscall/ENOSYS", K_INT, syscall(100000));
	ROW("syscall/EINVAL-ftruncate", K_INT, syscall(SYS_ftruncate, fd, -1L));
	ROW("syscall/ENOENT-unlink", K_INT, syscall(SYS_unlink, p("no")));
	ROW("syscall/ENOENT-rename", K_INT, syscall(SYS_rename, p("no"), p("no2")));
	ROW("syscall/EBADF-dup", K_INT, syscall(SYS_dup, -1));
	ROW("syscall/ok-close", K_INT, syscall(SYS_close, dup(fd)));
	close(60);
	close(61);
	close(fd);
}

static void net_rows(void)
{
	int fd = rw("k1"), sp[2], ns = socket(AF_INET, SOCK_STREAM, 0);
	char b[32];
	struct iovec v = {b, sizeof(b)};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};

	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	ROW("accept/EBADF", K_INT, accept(-1, NULL, NULL));
	ROW("accept/ENOTSOCK", K_INT, accept(fd, NULL, NULL));
	ROW("accept/EINVAL", K_INT, accept(ns, NULL, NULL));
	ROW("accept4/EINVAL", K_INT, accept4(ns, NULL, NULL, 0x7777));
	ROW("accept4/ENOTSOCK", K_INT, accept4(fd, NULL, NULL, 0));
	ROW("read/ENOTCONN", K_INT, read(ns, b, 4));
	ROW("recv/ENOTSOCK", K_INT, recv(fd, b, 4, 0));
	ROW("recv/EBADF", K_INT, recv(-1, b, 4, 0));
	ROW("__recv_chk/ENOTSOCK", K_INT, __recv_chk(fd, b, 4, sizeof(b), 0));
	ROW("recvfrom/ENOTSOCK", K_INT, recvfrom(fd, b, 4, 0, NULL, NULL));
	ROW("__recvfrom_chk/EBADF", K_INT, __recvfrom_chk(-1, b, 4, sizeof(b), 0, NULL, NULL));
	ROW("recvmsg/ENOTSOCK", K_INT, recvmsg(fd, &m, 0));
	ROW("recvmsg/EAGAIN", K_INT, recvmsg(sp[0], &m, MSG_DONTWAIT));
	ROW("recv/EAGAIN", K_INT, recv(sp[0], b, 4, MSG_DONTWAIT));
	write(sp[1], "GET / HTTP/1.1\r\nCookie: sid=abc\r\n\r\n", 35);
	ROW("recv/ok", K_INT, recv(sp[0], b, 10, 0));
	ROW("__recv_chk/ok", K_INT, __recv_chk(sp[0], b, 5, sizeof(b), 0));
	ROW("recvfrom/ok", K_INT, recvfrom(sp[0], b, 5, 0, NULL, NULL));
	ROW("__recvfrom_chk/ok", K_INT, __recvfrom_chk(sp[0], b, 5, sizeof(b), 0, NULL, NULL));
	ROW("readv/ok-sock", K_INT, readv(sp[0], &v, 1));
	write(sp[1], "x", 1);
	ROW("recvmsg/ok", K_INT, recvmsg(sp[0], &m, 0));
	write(sp[1], "y", 1);
	ROW("__read_chk/ok", K_INT, __read_chk(sp[0], b, 1, sizeof(b)));
	ROW("__read_chk/EBADF", K_INT, __read_chk(-1, b, 1, sizeof(b)));
	close(sp[0]);
	close(sp[1]);
	close(ns);
	close(fd);
}

/* ---- ENOSPC: W/full is a 64 KiB tmpfs ----------------------------------------- */

static void enospc_rows(void)
{
	int fd;
	FILE *f;
	struct iovec v = {big, sizeof(big)};

	if (!have_full) {
		put("enospc/skipped", K_INT, 0, 0);
		return;
	}
#define FULLRESET() (unlink(p("full/a")), fd = open(p("full/a"), O_RDWR | O_CREAT | O_TRUNC, 0644))
	FULLRESET();
	ROW("enospc/write-short", K_INT, write(fd, big, sizeof(big)) < (ssize_t)sizeof(big));
	ROW("enospc/write", K_INT, write(fd, big, 4096));
	ROW("enospc/pwrite64", K_INT, pwrite64(fd, big, 4096, 70000));
	ROW("enospc/writev", K_INT, writev(fd, &v, 1));
	ROW("enospc/pwritev2", K_INT, pwritev2(fd, &v, 1, 80000, 0));
	ROW("enospc/fallocate", K_INT, fallocate(fd, 0, 0, 1 << 20));
	ROW("enospc/posix_fallocate", K_INT, posix_fallocate(fd, 0, 1 << 20));
	ROW("enospc/ftruncate-sparse", K_INT, ftruncate(fd, 1 << 20));
	ROW("enospc/dprintf", K_INT, dprintf(fd, "%s", "x"));
	ROW("enospc/creat", K_FD, creat(p("full/b"), 0644));
	close(fd);
	ROWP("enospc/fopen", f = fopen(p("full/c"), "w"));
	if (f) {
		ROW("enospc/fwrite", K_INT, fwrite(big, 1, sizeof(big), f));
		ROW("enospc/fflush", K_INT, fflush(f));
		ROW("enospc/fclose", K_INT, fclose(f));
	}
	unlink(p("full/a"));
	unlink(p("full/b"));
	unlink(p("full/c"));
}

/* ---- EACCES: uid 65534 against a 000 file and a 0555 directory ----------------- */

static void eacces_rows(void)
{
	int st, d;
	pid_t pid;
	char t[PATH_MAX];

	mk("locked", 10);
	chmod(p("locked"), 0);
	mkdir(p("ro"), 0555);
	mk("ro/f", 10);
	chmod(p("ro"), 0555);
	if (getuid() != 0) {
		put("eacces/skipped", K_INT, 0, 0);
		return;
	}
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(3);
		d = open(p("ro"), O_RDONLY | O_DIRECTORY);
		ROW("eacces/open", K_FD, open(p("locked"), O_WRONLY));
		ROW("eacces/open64", K_FD, open64(p("locked"), O_RDONLY));
		ROW("eacces/openat-creat", K_FD, openat(d, "new", O_CREAT | O_WRONLY, 0644));
		ROW("eacces/creat", K_FD, creat(p("ro/new"), 0644));
		ROW("eacces/__open_2", K_FD, __open_2(p("locked"), O_RDWR));
		snprintf(t, sizeof(t), "%s", p("ro/tXXXXXX"));
		ROW("eacces/mkstemp", K_FD, mkstemp(t));
		ROWP("eacces/fopen", fopen(p("locked"), "a"));
		ROWP("eacces/fopen64", fopen64(p("ro/new"), "w"));
		ROW("eacces/truncate", K_INT, truncate(p("locked"), 0));
		ROW("eacces/rename", K_INT, rename(p("ro/f"), p("ro/g")));
		ROW("eacces/renameat", K_INT, renameat(d, "f", AT_FDCWD, p("moved")));
		ROW("eacces/link", K_INT, link(p("ro/f"), p("ro/h")));
		ROW("eacces/unlink", K_INT, unlink(p("ro/f")));
		ROW("eacces/unlinkat", K_INT, unlinkat(d, "f", 0));
		ROW("eacces/syscall-open", K_INT, syscall(SYS_openat, AT_FDCWD, p("locked"), O_WRONLY, 0));
		_exit(0);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		put("eacces/child-failed", K_INT, st, 0);
}

/* ---- the table ------------------------------------------------------------------ */

static void table(const char *base, const char *half)
{
	struct stat st, pst;

	snprintf(W, sizeof(W), "%s/%s", base, half);
	where = half;
	have_full = stat(p("full"), &st) == 0 && stat(W, &pst) == 0 &&
		    st.st_dev != pst.st_dev;
	open_rows();
	data_rows();
	stdio_rows();
	size_rows();
	name_rows();
	fd_rows();
	net_rows();
	eintr_rows();
	enospc_rows();
	eacces_rows();
}

/* The role: runs the table in both halves, inside and outside the root. */
static int role(void)
{
	const char *base = getenv("UG_ERRNO_BASE");

	out = open(getenv("UG_ERRNO_OUT"), O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (!base || out < 0)
		return 2;
	memset(big, 'b', sizeof(big));
	alarm(60); /* a hang is a failure, not a stuck CI job */
	table(base, "g");
	table(base, "u");
	dprintf(out, "end\n");
	return 0;
}

/* ---- the driver ------------------------------------------------------------------ */

static char top[PATH_MAX];

/* Prepares base/{g,u}, mounts a 64 KiB tmpfs on each full/ in a private
 * mount namespace (root only), and execs the role with or without the shim. */
static int run_side(const char *side, const char *lib, char *outp, size_t outsz)
{
	char base[PATH_MAX], d[PATH_MAX], cfg[4 * PATH_MAX];
	pid_t pid;
	int st;

	snprintf(base, sizeof(base), "%s/%s", top, side);
	snprintf(outp, outsz, "%s/%s.out", top, side);
	mkdir(base, 0755);
	for (const char *h = "g\0u\0"; *h; h += 2) {
		snprintf(d, sizeof(d), "%s/%s", base, h);
		mkdir(d, 0755);
		snprintf(d, sizeof(d), "%s/%s/full", base, h);
		mkdir(d, 0755);
	}
	snprintf(cfg, sizeof(cfg),
		 "[guard]\nmode = deny\nlog = %s/%s-events.jsonl\n"
		 "[upload %s/g]\nmax_file = 1G\nmax_total = 10G\n"
		 "[upload %s/g/full]\nmax_file = 1G\nmax_total = 1G\n",
		 top, side, base, base);
	pid = fork();
	if (pid == 0) {
		if (getuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) {
			for (const char *h = "g\0u\0"; *h; h += 2) {
				snprintf(d, sizeof(d), "%s/%s/full", base, h);
				if (mount("tmpfs", d, "tmpfs", 0, "size=64k") < 0)
					fprintf(stderr, "mount %s: %m\n", d);
			}
		}
		setenv("UG_ERRNO_BASE", base, 1);
		setenv("UG_ERRNO_OUT", outp, 1);
		setenv("UG_TEST_ROLE", "table", 1);
		if (lib) {
			setenv("LD_PRELOAD", lib, 1);
			setenv("UPLOADGUARD_CONFIG_TEXT", cfg, 1);
		} else {
			unsetenv("LD_PRELOAD");
		}
		execl("/proc/self/exe", "test_errno", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int slurp(const char *path, char ***lines)
{
	FILE *f = fopen(path, "r");
	char buf[512];
	int n = 0;

	*lines = NULL;
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		*lines = realloc(*lines, sizeof(char *) * (n + 1));
		(*lines)[n++] = strdup(buf);
	}
	fclose(f);
	return n;
}

int main(void)
{
	const char *lib = getenv("UG_LIB");
	char po[PATH_MAX], so[PATH_MAX], ev[PATH_MAX + 32];
	char **a, **b;
	int na, nb, i, bad = 0, rc;

	if (getenv("UG_TEST_ROLE"))
		return role();
	if (!lib || access(lib, R_OK) != 0) {
		printf("SKIP: UG_LIB does not name the shim\n");
		return 77;
	}
	snprintf(top, sizeof(top), "/tmp/ugerrno.XXXXXX");
	if (!mkdtemp(top))
		return 1;
	chmod(top, 0755);
	if ((rc = run_side("plain", NULL, po, sizeof(po))) != 0)
		fprintf(stderr, "plain side exited %d\n", rc);
	if ((rc = run_side("shim", lib, so, sizeof(so))) != 0) {
		fprintf(stderr, "shim side exited %d\n", rc);
		bad++;
	}
	na = slurp(po, &a);
	nb = slurp(so, &b);
	for (i = 0; i < na || i < nb; i++) {
		const char *x = i < na ? a[i] : "(missing)\n";
		const char *y = i < nb ? b[i] : "(missing)\n";
		if (strcmp(x, y) != 0) {
			printf("MISMATCH\n  libc: %s  shim: %s", x, y);
			bad++;
		}
	}
	snprintf(ev, sizeof(ev), "%s/shim-events.jsonl", top);
	{
		struct stat st;
		if (stat(ev, &st) == 0 && st.st_size > 0) {
			printf("the shim logged events on a run with no "
			       "violation (%s)\n", ev);
			bad++;
		}
	}
	printf("%d rows compared (%s), %d mismatches%s\n", na, po, bad,
	       strstr(a && na ? a[na - 1] : "", "end") ? "" : " (plain run incomplete)");
	for (i = 0; i < na; i++)
		if (strstr(a[i], "skipped"))
			printf("note: %s", a[i]);
	if (!bad && !getenv("UG_KEEP")) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", top);
	}
	return bad ? 1 : 0;
}
