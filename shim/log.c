/*
 * The forensic log: event lines built in a fixed buffer and written with one
 * write() on an O_APPEND fd the host cannot close.  Thread-safe and
 * async-signal-safe: buffers from a lock-free pool, time formatted by hand,
 * no stdio, and no lock at all on the write path (see "the fd" below for
 * how the fd is moved under concurrent writers).
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "backtrace.h"
#include "event.h"
#include "guard.h"
#include "json.h"
#include "session.h"
#include "totals.h"

#define UG_SYSLOG_PATH "/dev/log"

enum log_kind { LOG_NONE, LOG_FILE, LOG_STDERR, LOG_SYSLOG };

static struct {
	enum log_kind kind;
	_Atomic int fd;
	char path[4096]; /* log file, or syslog socket */
	_Atomic uint64_t seq, lost, lost_reported;
	/* fd 2 at start (for the exit message) */
	dev_t err_dev;
	ino_t err_ino;
	bool err_ok;
	/* process facts, read once (refreshed after fork) */
	char comm[32], cmdline[256], hostname[128], container[80], cgroup[256];
	uint64_t mnt_ns, pid_ns;
} lg = {.fd = -1};

/* ---- small async-signal-safe helpers ------------------------------------- */

void ug__diag(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	memcpy(buf, "uploadguard: ", 13);
	va_start(ap, fmt);
	n = vsnprintf(buf + 13, sizeof(buf) - 14, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 13;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	real_write(2, buf, (size_t)n);
}

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = real_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = real_read(fd, buf, size - 1);
	real_close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void put_num(char *p, uint64_t v, int width)
{
	while (width-- > 0) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* "2026-11-25T22:40:10.123456789Z" into out[31]. */
static void rfc3339(char *out)
{
	struct timespec ts;
	int64_t secs, days, rem;
	int y;
	unsigned mo, d;

	clock_gettime(CLOCK_REALTIME, &ts);
	secs = ts.tv_sec;
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil(days, &y, &mo, &d);
	memcpy(out, "0000-00-00T00:00:00.000000000Z", 31);
	put_num(out, (uint64_t)y, 4);
	put_num(out + 5, mo, 2);
	put_num(out + 8, d, 2);
	put_num(out + 11, (uint64_t)rem / 3600, 2);
	put_num(out + 14, (uint64_t)rem / 60 % 60, 2);
	put_num(out + 17, (uint64_t)rem % 60, 2);
	put_num(out + 20, (uint64_t)ts.tv_nsec, 9);
}

/* ---- process facts ---------------------------------------------------------
 */

/* Container id: the last 64-hex run in /proc/self/cgroup (docker, containerd,
 * cri-o, podman all put it there), else in mountinfo; "host" at "0::/". */
static bool find_hex64(const char *s, char *out, size_t outsz)
{
	const char *best = NULL;
	size_t run = 0;

	for (; *s; s++) {
		bool hx = (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f');
		run = hx ? run + 1 : 0;
		if (run >= 64 && !(s[1] >= '0' && s[1] <= '9') &&
		    !(s[1] >= 'a' && s[1] <= 'f'))
			best = s - 63;
	}
	if (!best || outsz < 65)
		return false;
	memcpy(out, best, 64);
	out[64] = '\0';
	return true;
}

void ug__log_process_info(void)
{
	static char buf[65536];
	struct utsname un;
	struct stat st;
	ssize_t n;
	char *nl;

	if (read_small("/proc/self/comm", lg.comm, sizeof(lg.comm)) > 0 &&
	    (nl = strchr(lg.comm, '\n')))
		*nl = '\0';
	n = read_small("/proc/self/cmdline", lg.cmdline, sizeof(lg.cmdline));
	for (ssize_t i = 0; i < n - 1; i++)
		if (lg.cmdline[i] == '\0')
			lg.cmdline[i] = ' ';
	if (uname(&un) == 0)
		strncpy(lg.hostname, un.nodename, sizeof(lg.hostname) - 1);
	strcpy(lg.container, "unknown");
	lg.cgroup[0] = '\0';
	if (read_small("/proc/self/cgroup", buf, sizeof(buf)) > 0) {
		char *p = strstr(buf, "0::");
		if (p) {
			size_t l = strcspn(p + 3, "\n");
			if (l >= sizeof(lg.cgroup))
				l = sizeof(lg.cgroup) - 1;
			memcpy(lg.cgroup, p + 3, l);
			lg.cgroup[l] = '\0';
		}
		if (!find_hex64(buf, lg.container, sizeof(lg.container)) &&
		    strcmp(lg.cgroup, "/") == 0)
			strcpy(lg.container, "host");
	}
	if (strcmp(lg.container, "unknown") == 0 &&
	    read_small("/proc/self/mountinfo", buf, sizeof(buf)) > 0)
		find_hex64(buf, lg.container, sizeof(lg.container));
	lg.mnt_ns = stat("/proc/self/ns/mnt", &st) == 0 ? st.st_ino : 0;
	lg.pid_ns = stat("/proc/self/ns/pid", &st) == 0 ? st.st_ino : 0;
}

/* ---- the fd ----------------------------------------------------------------
 * Writers never lock.  A writer counts itself in users[phase & 1], loads
 * the fd, writes, and leaves.  A mover (rotation, or a dup2 over our
 * number) publishes the new fd, then flips the phase twice, each time
 * waiting for the other half's writers to leave, before it closes the old
 * fd: no writer can still be using the old number when the host gets it.
 * Movers are serialised by a flag; rotation only ever tries it.
 */
static atomic_flag moving = ATOMIC_FLAG_INIT;
static _Atomic unsigned phase, users[2];
static UG_TLS int in_emit; /* this thread is inside emit (signal nesting) */

/* Waits for the writers that may hold the current fd.  Bounded when this
 * thread itself is one of them (a signal handler that interrupted emit):
 * it cannot leave until we return. */
static void drain(void)
{
	int k;

	for (k = 0; k < 2; k++) {
		unsigned p = atomic_fetch_add(&phase, 1) & 1;
		long spins = in_emit ? 100000 : -1;

		while (atomic_load(&users[p]) != 0 && spins-- != 0)
			sched_yield();
	}
}

static void publish(int fd)
{
	atomic_store(&lg.fd, fd);
	ug__st.log_fd = fd;
}

/* A log fd lives high, away from the fds daemons close or dup2 over. */
static int park(int fd)
{
	struct rlimit rl;
	int hint = 900, nfd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
		hint = (int)rl.rlim_cur / 2;
	nfd = real_fcntl(fd, F_DUPFD_CLOEXEC, hint);
	if (nfd < 0)
		return fd;
	real_close(fd);
	return nfd;
}

/* Opens the log file safely: no symlink at the name (O_NOFOLLOW), a regular
 * file only, never a FIFO or device (O_NONBLOCK keeps the open from hanging
 * on one).  Returns the fd or -errno (-EINVAL: not a regular file).
 * Async-signal-safe (rotation calls it from emit). */
static int open_file(const char *path)
{
	struct stat st;
	int fd, e;

	fd = real_openat(AT_FDCWD, path,
			 O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
			     O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
			 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		e = S_ISREG(st.st_mode) ? errno : EINVAL;
		real_close(fd);
		return -e;
	}
	/* A file another user owns (planted in a directory others can
	 * write) would let them read or rewrite the forensic record. */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		real_close(fd);
		return -EPERM;
	}
	/* back to plain writes for a regular file */
	real_fcntl(fd, F_SETFL, O_APPEND);
	return park(fd);
}

static int open_syslog(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		real_close(fd);
		return -e;
	}
	return park(fd);
}

int ug__log_open(const char *spec, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	err[0] = '\0';
	/* stderr as it was at start: the exit message goes there only if the
	 * host has not put something else on fd 2 since */
	if (fstat(2, &st) == 0) {
		lg.err_dev = st.st_dev;
		lg.err_ino = st.st_ino;
		lg.err_ok = true;
	}
	if (!spec || strcmp(spec, "stderr") == 0) {
		lg.kind = LOG_STDERR;
		/* a copy: coreutils close fd 2 before our destructor runs */
		fd = real_fcntl(2, F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			lg.kind = LOG_NONE;
			return 0;
		}
		fd = park(fd);
	} else if (strcmp(spec, "syslog") == 0 ||
		   strncmp(spec, "syslog:", 7) == 0) {
		/* "syslog:/path" names another datagram socket than /dev/log */
		lg.kind = LOG_SYSLOG;
		snprintf(lg.path, sizeof(lg.path), "%s",
			 spec[6] == ':' ? spec + 7 : UG_SYSLOG_PATH);
		fd = open_syslog(lg.path);
		if (fd < 0) {
			snprintf(err, errlen, "cannot reach syslog at %s: %s",
				 lg.path, strerror(-fd));
			lg.kind = LOG_NONE;
			return fd;
		}
	} else {
		lg.kind = LOG_FILE;
		snprintf(lg.path, sizeof(lg.path), "%s", spec);
		fd = open_file(spec);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open log %s: %s", spec,
				 fd == -ELOOP ? "it is a symlink (refused)"
				 : fd == -EINVAL
				     ? "not a regular file (refused)"
				     : strerror(-fd));
			lg.kind = LOG_NONE;
			return fd;
		}
	}
	publish(fd);
	return 0;
}

bool ug__log_is_fd(int fd)
{
	return fd >= 0 &&
	       fd == atomic_load_explicit(&lg.fd, memory_order_relaxed);
}

void ug__log_evacuate(int fd)
{
	int nfd;
	long spins = in_emit ? 100000 : -1;
	bool owned;

	while (!(owned = !atomic_flag_test_and_set(&moving)) && spins-- != 0)
		sched_yield();
	if (fd == atomic_load(&lg.fd)) {
		nfd = real_fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
		if (nfd >= 0) {
			publish(nfd);
			drain();
			real_close(fd);
		}
	}
	if (owned)
		atomic_flag_clear(&moving);
}

/* Follows rotation: when the path no longer names the file we hold
 * (renamed or deleted by logrotate), open a new one there.  Copytruncate
 * needs nothing: O_APPEND writes land at the new end.  Never waits on
 * another mover; skipped inside a nested (signal) emit. */
/* Publishes a new log fd and closes the old one once no writer can still
 * be using it.  Called with the mover flag held; fd < 0: keep the old. */
static void replace_fd(int fd, int old)
{
	if (fd < 0)
		return;
	publish(fd);
	if (old >= 0) {
		drain();
		real_close(old);
	}
}

static void follow_rotation(void)
{
	struct stat a, b;
	int old;

	if (lg.kind != LOG_FILE || in_emit)
		return;
	old = atomic_load(&lg.fd);
	if (old >= 0 && stat(lg.path, &a) == 0 && fstat(old, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return;
	if (atomic_flag_test_and_set(&moving))
		return; /* someone else is moving it: write where it is */
	if (atomic_load(&lg.fd) == old)
		replace_fd(open_file(lg.path), old);
	atomic_flag_clear(&moving);
}

/* Syslog: a restarted daemon leaves our socket unconnected; reconnect. */
static void reconnect_syslog(void)
{
	int old;

	if (atomic_flag_test_and_set(&moving))
		return;
	old = atomic_load(&lg.fd);
	replace_fd(open_syslog(lg.path), old);
	atomic_flag_clear(&moving);
}

void ug__log_atfork_child(void)
{
	/* the other threads, and their place in users[], did not come along */
	atomic_flag_clear(&moving);
	atomic_store(&users[0], 0);
	atomic_store(&users[1], 0);
	atomic_store(&lg.seq, 0);
	atomic_store(&lg.lost, 0);
	atomic_store(&lg.lost_reported, 0);
	ug__log_process_info();
}

uint64_t ug__log_lost(void) { return atomic_load(&lg.lost); }

/* ---- buffers
 * ------------------------------------------------------------------ A small
 * static pool (untouched pages cost no memory); mmap beyond it.
 */
#define UG_EVBUF 32768
#define UG_EVPOOL 8
static char pool[UG_EVPOOL][UG_EVBUF];
static atomic_flag pool_busy[UG_EVPOOL];

static char *buf_get(int *slot)
{
	int i;
	void *p;

	for (i = 0; i < UG_EVPOOL; i++) {
		if (!atomic_flag_test_and_set(&pool_busy[i])) {
			*slot = i;
			return pool[i];
		}
	}
	*slot = -1;
	p = mmap(NULL, UG_EVBUF, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void buf_put(char *p, int slot)
{
	if (slot >= 0)
		atomic_flag_clear(&pool_busy[slot]);
	else if (p)
		munmap(p, UG_EVBUF);
}

/* ---- the event --------------------------------------------------------------
 */

/* "EFBIG", or "E<n>" for a number glibc has no name for; out has 16 bytes. */
static const char *errno_name(int e, char *out)
{
	const char *n = strerrorname_np(e);
	size_t l = 1;
	int v = e < 0 ? -e : e;
	char tmp[12];
	int k = 0;

	if (n)
		return n;
	out[0] = 'E';
	do {
		tmp[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && k < 11);
	while (k)
		out[l++] = tmp[--k];
	out[l] = '\0';
	return out;
}

static void put_process(struct ug_json *j)
{
	ug__json_i64(j, "pid", ug__st.pid);
	ug__json_i64(j, "ppid", getppid());
	ug__json_i64(j, "tid", ug__gettid());
	ug__json_str(j, "comm", lg.comm);
	ug__json_str(j, "exe", ug__st.exe);
	ug__json_str(j, "cmdline", lg.cmdline);
	ug__json_u64(j, "uid", getuid());
	ug__json_u64(j, "euid", geteuid());
	ug__json_u64(j, "gid", getgid());
	ug__json_u64(j, "egid", getegid());
	ug__json_str(j, "hostname", lg.hostname);
	ug__json_str(j, "container_id", lg.container);
	ug__json_str(j, "cgroup", lg.cgroup);
	ug__json_u64(j, "mnt_ns", lg.mnt_ns);
	ug__json_u64(j, "pid_ns", lg.pid_ns);
}

static void put_caps(struct ug_json *j, const struct ug_rootrt *rt)
{
	const struct ug_root *r = rt->cfg;

	ug__json_str(j, "root", rt->cfg->path);
	if (!ug__json_obj_begin(j, "caps"))
		return;
#define CAP(name)                                                              \
	do {                                                                   \
		if (r->name != UG_UNLIMITED)                                   \
			ug__json_u64(j, #name, r->name);                       \
	} while (0)
	CAP(max_file);
	CAP(max_total);
	CAP(max_files);
	CAP(max_session);
#undef CAP
	ug__json_end(j, '}');
}

static size_t put_hex(char *out, uintptr_t v)
{
	char hx[2 * sizeof(v)];
	size_t k = 0, l = 0;

	do {
		hx[k++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (k)
		out[l++] = hx[--k];
	return l;
}

static void put_backtrace(struct ug_json *j)
{
	struct ug_frame f[UG_BT_MAX];
	int n = ug__bt_take(f, UG_BT_MAX), i;

	if (!ug__json_arr_begin(j, "backtrace"))
		return;
	for (i = 0; i < n; i++) {
		if (!ug__json_obj_begin(j, NULL))
			break;
		ug__json_hex(j, "ip", f[i].ip);
		ug__json_str(j, "module", f[i].module);
		ug__json_hex(j, "offset", f[i].offset);
		ug__json_str(j, "build_id", f[i].build_id);
		if (f[i].symbol) {
			char sym[300];
			size_t l = strnlen(f[i].symbol, 256);

			memcpy(sym, f[i].symbol, l);
			memcpy(sym + l, "+0x", 3);
			l += 3;
			l += put_hex(sym + l, f[i].symoff);
			ug__json_strn(j, "symbol", sym, l);
		}
		ug__json_end(j, '}');
	}
	ug__json_end(j, ']');
}

/* Writes one line; true when all of it went out.  No lock: see "the fd". */
static bool emit(const char *line, size_t len)
{
	ssize_t w = -1;
	unsigned p;
	int fd, e = 0;

	follow_rotation();
	in_emit++;
	p = atomic_load(&phase) & 1;
	atomic_fetch_add(&users[p], 1);
	fd = atomic_load(&lg.fd);
	if (fd >= 0 && lg.kind == LOG_SYSLOG) {
		char hdr[40];
		struct iovec iov[2];
		size_t hl = sizeof("<12>uploadguard[") - 1;
		int pid = (int)ug__st.pid, k = 0;
		char tmp[12];

		/* "<12>uploadguard[PID]: " by hand (user.warning) */
		memcpy(hdr, "<12>uploadguard[", hl);
		do {
			tmp[k++] = (char)('0' + pid % 10);
			pid /= 10;
		} while (pid > 0 && k < 11);
		while (k)
			hdr[hl++] = tmp[--k];
		memcpy(hdr + hl, "]: ", 3);
		hl += 3;
		iov[0].iov_base = hdr;
		iov[0].iov_len = hl;
		iov[1].iov_base = (void *)line;
		iov[1].iov_len = len - 1; /* no newline in a datagram */
		w = real_writev(fd, iov, 2);
		e = errno;
		w = w == (ssize_t)(hl + len - 1) ? (ssize_t)len : -1;
	} else if (fd >= 0) {
		w = real_write(fd, line, len);
	}
	atomic_fetch_sub(&users[p], 1);
	in_emit--;
	if (w < 0 && lg.kind == LOG_SYSLOG &&
	    (e == ECONNREFUSED || e == ENOTCONN || e == ENOENT))
		reconnect_syslog();
	return w == (ssize_t)len;
}

/* Claims the lost events not yet reported; put back with unclaim_lost if
 * the line that reports them is not written either. */
static uint64_t claim_lost(void)
{
	uint64_t r = atomic_load(&lg.lost_reported), l;

	do {
		l = atomic_load(&lg.lost);
		if (l <= r)
			return 0;
	} while (!atomic_compare_exchange_weak(&lg.lost_reported, &r, l));
	return l - r;
}

static void unclaim_lost(uint64_t n)
{
	if (n)
		atomic_fetch_sub(&lg.lost_reported, n);
}

static void put_int_or_null(struct ug_json *j, const char *key, int64_t v)
{
	if (v >= 0)
		ug__json_i64(j, key, v);
	else
		ug__json_null(j, key);
}

void ug__log_event(const struct ug_event *ev)
{
	struct ug_json j;
	char ts[32], en[16];
	int slot;
	char *buf, *red;
	uint64_t lost;
	size_t len;
	UG_ERRNO_SAVE;

	if (lg.kind == LOG_NONE) {
		atomic_fetch_add(&lg.lost, 1);
		UG_ERRNO_RESTORE;
		return;
	}
	buf = buf_get(&slot);
	if (!buf) {
		atomic_fetch_add(&lg.lost, 1);
		UG_ERRNO_RESTORE;
		return;
	}
	rfc3339(ts);
	/* the redacted path lives at the buffer's end, off the stack */
	red = buf + UG_EVBUF - PATH_MAX;
	ug__json_init(&j, buf, UG_EVBUF - PATH_MAX);
	ug__json_u64(&j, "v", UG_SCHEMA_VERSION);
	ug__json_u64(&j, "seq", atomic_fetch_add(&lg.seq, 1) + 1);
	ug__json_str(&j, "time", ts);
	ug__json_i64(&j, "mono_ns", ug__now_ns(CLOCK_MONOTONIC));
	ug__json_str(&j, "event", ev->event);
	ug__json_str(&j, "rule", ev->rule ? ug__rule_name(ev->rule) : NULL);
	ug__json_str(&j, "verdict", ev->verdict);
	ug__json_str(&j, "op", ev->op);
	/* session ids are secrets, even inside a path */
	ug__json_str(&j, "path",
		     ev->path
			 ? ug__session_redact(ev->root, ev->path, red, PATH_MAX)
			 : NULL);
	put_int_or_null(&j, "fd", ev->fd);
	put_int_or_null(&j, "offset", ev->offset);
	ug__json_u64(&j, "requested", ev->requested);
	ug__json_u64(&j, "allowed", ev->allowed);
	ug__json_i64(&j, "ret", ev->ret);
	ug__json_str(&j, "errno", ev->err ? errno_name(ev->err, en) : NULL);
	if (ev->rule)
		ug__json_u64(&j, "limit", ev->limit);
	else
		ug__json_null(&j, "limit");
	put_int_or_null(&j, "size_before", ev->size_before);
	put_int_or_null(&j, "size_after", ev->size_after);
	put_int_or_null(&j, "total_before", ev->total_before);
	put_int_or_null(&j, "total_after", ev->total_after);
	if (ev->root)
		put_caps(&j, ev->root);
	ug__json_u64(&j, "dev", ev->dev);
	ug__json_u64(&j, "ino", ev->ino);
	ug__json_str(&j, "session", ev->session);
	ug__json_str(&j, "owner", ev->owner);
	ug__json_str(&j, "binding", ev->binding);
	if (ev->written || strcmp(ev->event, "file_closed") == 0)
		ug__json_u64(&j, "written", ev->written);
	ug__json_u64(&j, "repeat", ev->repeat);
	put_process(&j);
	lost = claim_lost();
	ug__json_u64(&j, "lost", lost);
	if (ev->backtrace)
		put_backtrace(&j);
	len = ug__json_finish(&j);
	if (!emit(buf, len)) {
		unclaim_lost(lost);
		atomic_fetch_add(&lg.lost, 1);
	}
	buf_put(buf, slot);
	UG_ERRNO_RESTORE;
}

/* True when fd 2 is still the stderr the process started with. */
static bool stderr_is_ours(void)
{
	struct stat st;

	return lg.err_ok && fstat(2, &st) == 0 && st.st_dev == lg.err_dev &&
	       st.st_ino == lg.err_ino;
}

/* At exit: the events never written are reported once more, as an
 * "events_lost" line when the log works, and on stderr (if fd 2 is still
 * the stderr we started with: never into a file the host put there). */
void ug__log_exit(void)
{
	struct ug_json j;
	char line[2048], ts[32];
	uint64_t lost = claim_lost();
	size_t len;
	UG_ERRNO_SAVE;

	if (!lost)
		goto out;
	if (lg.kind != LOG_NONE) {
		rfc3339(ts);
		ug__json_init(&j, line, sizeof(line));
		ug__json_u64(&j, "v", UG_SCHEMA_VERSION);
		ug__json_u64(&j, "seq", atomic_fetch_add(&lg.seq, 1) + 1);
		ug__json_str(&j, "time", ts);
		ug__json_i64(&j, "mono_ns", ug__now_ns(CLOCK_MONOTONIC));
		ug__json_str(&j, "event", "events_lost");
		ug__json_u64(&j, "lost", lost);
		put_process(&j);
		len = ug__json_finish(&j);
		emit(line, len);
	}
	if (lg.kind != LOG_STDERR && stderr_is_ours())
		ug__diag("%llu event(s) could not be written to the log",
			 (unsigned long long)lost);
out:
	UG_ERRNO_RESTORE;
}
