/*
 * uploadguard benchmarks: the guard's cost against the same work without it.
 *
 *   bench all             every case, interleaved rounds, markdown tables
 *   bench run CASE...     only those cases (same output)
 *   bench list            case names
 *   bench worker CASE     one measurement in this process: prints ns/op
 *   bench mem             RSS with 10,000 open guarded files vs bare
 *   bench callgrind       instructions per call under valgrind
 *   bench strace          the guarded write under strace, for scale
 *   bench cgloop CASE N   the loop that callgrind counts (internal)
 *
 * One process per measurement: every round runs the case once bare (same
 * binary, no LD_PRELOAD) and once guarded, alternately, so a noisy machine
 * moves both.  A round's figure is the fastest of 5 batches inside the
 * process (after a warm-up).  The table shows the median over rounds and the
 * min-max of the per-round ratios.
 *
 * Environment (set by tests/bench/run): BENCH_SHIM (the .so), BENCH_DIR
 * (work dir holding root/, plain/, roots10/), BENCH_CONF, BENCH_CONF10,
 * BENCH_CONF_ONLY (configs), BENCH_UPLOAD_PY, BENCH_QUICK=1 (fewer rounds
 * and iterations, for trying things out).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- helpers ------------------------------------------------------------ */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		die("%s is not set (run through tests/bench/run)", name);
	return v;
}

static bool quick(void)
{
	const char *q = getenv("BENCH_QUICK");
	return q && *q == '1';
}

/* A path under BENCH_DIR (static storage, a few live at a time). */
static const char *bpath(const char *fmt, ...)
{
	static char bufs[8][4096];
	static int next;
	char rel[2048];
	char *b = bufs[next++ & 7];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(b, 4096, "%s/%s", env("BENCH_DIR"), rel);
	return b;
}

static int xopen(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

static void make_file(const char *path, size_t size)
{
	static char buf[4096];
	int fd = xopen(path, O_WRONLY | O_CREAT | O_TRUNC);

	while (size > 0) {
		size_t n = size < sizeof(buf) ? size : sizeof(buf);
		if (write(fd, buf, n) != (ssize_t)n)
			die("write %s: %s", path, strerror(errno));
		size -= n;
	}
	close(fd);
}

static void check(bool ok, const char *what)
{
	if (!ok)
		die("%s: %s", what, strerror(errno));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double t[64];

	memcpy(t, v, sizeof(double) * (size_t)n);
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static bool guarded_variant(void)
{
	const char *v = getenv("BENCH_VARIANT");
	return v && strcmp(v, "guarded") == 0;
}

/* The environment for a program the worker starts: the caller's, with the
 * preload (guarded variant only) and the given config. */
static char **child_env(const char *conf)
{
	static char *out[512];
	static char pre[4096], cfg[4096];
	int n = 0;
	char **e;

	for (e = environ; *e && n < 500; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) &&
		    strncmp(*e, "UPLOADGUARD_", 12))
			out[n++] = *e;
	snprintf(cfg, sizeof(cfg), "UPLOADGUARD_CONFIG=%s", conf);
	out[n++] = cfg;
	if (guarded_variant()) {
		snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", env("BENCH_SHIM"));
		out[n++] = pre;
	}
	out[n] = NULL;
	return out;
}

/* fork + execve + waitpid; returns the wall time in ns. */
static int64_t spawn_wait(char *const argv[], char **envp, bool quiet)
{
	int64_t t0 = now_ns();
	int st;
	pid_t pid = fork();

	check(pid >= 0, "fork");
	if (pid == 0) {
		if (quiet) {
			int nul = open("/dev/null", O_WRONLY);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execve(argv[0], argv, envp);
		_exit(127);
	}
	check(waitpid(pid, &st, 0) == pid, "waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("%s exited with status %d", argv[0], st);
	return now_ns() - t0;
}

static char wbuf[65536];

/* ---- the cases -------------------------------------------------------------
 * Each returns the time per operation in ns for n operations, timing only
 * the operations (resets happen outside the timed stretches).
 */
struct bcase;
typedef double (*case_fn)(const struct bcase *c, long n);

enum where { W_NULL, W_PLAIN, W_ROOT };
enum wkind { K_WRITE, K_PWRITE, K_WRITEV, K_FWRITE };
enum unit { U_NS, U_US, U_MS, U_MIBS, U_RPS };
enum tkind { T_NONE, T_MAX, T_MIN };

#define F_EXEC 1u   /* worker runs bare; what it starts gets the preload */
#define F_NOWARM 2u /* no warm-up, one batch */

struct bcase {
	const char *name;
	const char *section;
	const char *label;
	case_fn fn;
	long iters;     /* operations per batch */
	int size;       /* bytes per op, or threads, or a variant */
	int a, b;       /* case arguments */
	unsigned flags;
	enum unit unit;
	enum tkind tk;
	double target;
	int rounds;     /* 0: the default (7) */
};

static const char *target_path(enum where w, const char *tag)
{
	switch (w) {
	case W_NULL:
		return "/dev/null";
	case W_PLAIN:
		return bpath("plain/w-%s", tag);
	default:
		return bpath("root/w-%s", tag);
	}
}

/* write / pwrite / writev / fwrite of c->size bytes to target c->a, kind
 * c->b.  Regular files are cut back to 0 every MiB (outside the timing), so
 * appends keep growing the file as an upload does. */
static double case_write(const struct bcase *c, long n)
{
	size_t sz = (size_t)c->size;
	const char *path = target_path((enum where)c->a, c->name);
	int fd = xopen(path, O_WRONLY | O_CREAT | O_TRUNC);
	bool reg = c->a != W_NULL;
	long k = reg ? (long)((1 << 20) / sz) : n, done = 0, i;
	struct iovec iov[2] = {{wbuf, sz / 2}, {wbuf + sz / 2, sz - sz / 2}};
	FILE *f = NULL;
	int64_t acc = 0, t0;
	ssize_t r;

	if (c->b == K_FWRITE) {
		f = fdopen(fd, "w");
		check(f != NULL, "fdopen");
	}
	while (done < n) {
		long m = n - done < k ? n - done : k;
		t0 = now_ns();
		switch (c->b) {
		case K_WRITE:
			for (i = 0; i < m; i++)
				if ((r = write(fd, wbuf, sz)) != (ssize_t)sz)
					die("write %s: %zd %s", path, r, strerror(errno));
			break;
		case K_PWRITE:
			for (i = 0; i < m; i++)
				if (pwrite(fd, wbuf, sz, 0) != (ssize_t)sz)
					die("pwrite %s: %s", path, strerror(errno));
			break;
		case K_WRITEV:
			for (i = 0; i < m; i++)
				if (writev(fd, iov, 2) != (ssize_t)sz)
					die("writev %s: %s", path, strerror(errno));
			break;
		default:
			for (i = 0; i < m; i++)
				if (fwrite(wbuf, 1, sz, f) != sz)
					die("fwrite %s: %s", path, strerror(errno));
			break;
		}
		acc += now_ns() - t0;
		done += m;
		if (reg && c->b != K_PWRITE) {
			if (f)
				check(fflush(f) == 0, "fflush");
			check(ftruncate(fd, 0) == 0, "ftruncate");
			if (f)
				rewind(f);
			else
				check(lseek(fd, 0, SEEK_SET) == 0, "lseek");
		}
	}
	if (f)
		fclose(f);
	else
		close(fd);
	return (double)acc / (double)n;
}

/* open+close (c->a: 0 plain O_RDONLY, 1 plain O_WRONLY, 2 root O_WRONLY,
 * 3 root O_CREAT|O_EXCL + close + unlink) */
static double case_open(const struct bcase *c, long n)
{
	const char *plain = bpath("plain/open"), *root = bpath("root/open");
	const char *cx = bpath("root/creat");
	int64_t t0;
	long i;
	int fd;

	make_file(plain, 4096);
	make_file(root, 4096);
	unlink(cx);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		switch (c->a) {
		case 0:
			fd = open(plain, O_RDONLY);
			break;
		case 1:
			fd = open(plain, O_WRONLY);
			break;
		case 2:
			fd = open(root, O_WRONLY);
			break;
		default:
			fd = open(cx, O_WRONLY | O_CREAT | O_EXCL, 0644);
			break;
		}
		if (fd < 0)
			die("open: %s", strerror(errno));
		close(fd);
		if (c->a == 3)
			check(unlink(cx) == 0, "unlink");
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* rename of a 4 KiB file between plain/ and root/ (same filesystem);
 * c->a: 0 times plain->root (into the root), 1 times root->plain. */
static double case_rename(const struct bcase *c, long n)
{
	const char *p = bpath("plain/mv"), *r = bpath("root/mv");
	const char *from = c->a ? r : p, *to = c->a ? p : r;
	int64_t acc = 0, t0;
	long i;

	unlink(r);
	make_file(p, 4096);
	if (c->a)
		check(rename(p, r) == 0, "rename");
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (rename(from, to) != 0)
			die("rename %s %s: %s", from, to, strerror(errno));
		acc += now_ns() - t0;
		check(rename(to, from) == 0, "rename back");
	}
	return (double)acc / (double)n;
}

/* ftruncate of a guarded file, alternately to 4 KiB and to 0 */
static double case_ftruncate(const struct bcase *c, long n)
{
	int fd = xopen(bpath("root/ft"), O_WRONLY | O_CREAT | O_TRUNC);
	int64_t t0 = now_ns();
	long i;

	for (i = 0; i < n; i++)
		if (ftruncate(fd, (i & 1) ? 0 : 4096) != 0)
			die("ftruncate: %s", strerror(errno));
	t0 = now_ns() - t0;
	close(fd);
	return (double)t0 / (double)n;
}

/* ---- threads and processes: 4 KiB appends to their own guarded files,
 * each cut back every MiB; the figure is wall time over all ops. */
static void append_4k(int fd, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		if (write(fd, wbuf, 4096) != 4096)
			die("write: %s", strerror(errno));
		if ((i & 255) == 255) {
			check(ftruncate(fd, 0) == 0, "ftruncate");
			check(lseek(fd, 0, SEEK_SET) == 0, "lseek");
		}
	}
}

struct thr {
	pthread_t t;
	pthread_barrier_t *bar;
	int fd;
	long n;
};

static void *thr_main(void *p)
{
	struct thr *t = p;

	pthread_barrier_wait(t->bar);
	append_4k(t->fd, t->n);
	return NULL;
}

static double case_threads(const struct bcase *c, long n)
{
	int nt = c->a, i;
	struct thr th[64];
	pthread_barrier_t bar;
	int64_t t0;

	pthread_barrier_init(&bar, NULL, (unsigned)nt + 1);
	for (i = 0; i < nt; i++) {
		th[i].fd = xopen(bpath("root/t%d", i),
				 O_WRONLY | O_CREAT | O_TRUNC);
		th[i].n = n / nt;
		th[i].bar = &bar;
		check(pthread_create(&th[i].t, NULL, thr_main, &th[i]) == 0,
		      "pthread_create");
	}
	pthread_barrier_wait(&bar);
	t0 = now_ns();
	for (i = 0; i < nt; i++)
		pthread_join(th[i].t, NULL);
	t0 = now_ns() - t0;
	for (i = 0; i < nt; i++)
		close(th[i].fd);
	pthread_barrier_destroy(&bar);
	return (double)t0 / (double)(n / nt * nt);
}

static double case_procs(const struct bcase *c, long n)
{
	int np = c->a, i, ready[2], go[2], st;
	pid_t pid[16];
	int64_t t0;
	char b;

	check(pipe(ready) == 0 && pipe(go) == 0, "pipe");
	for (i = 0; i < np; i++) {
		pid[i] = fork();
		check(pid[i] >= 0, "fork");
		if (pid[i] == 0) {
			int fd = xopen(bpath("root/shared/p%d", i),
				       O_WRONLY | O_CREAT | O_TRUNC);
			close(ready[0]);
			close(go[1]);
			check(write(ready[1], "r", 1) == 1, "ready");
			if (read(go[0], &b, 1) != 0)
				_exit(3);
			append_4k(fd, n / np);
			close(fd);
			_exit(0);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < np; i++)
		check(read(ready[0], &b, 1) == 1, "read ready");
	t0 = now_ns();
	close(go[1]); /* go */
	for (i = 0; i < np; i++) {
		check(waitpid(pid[i], &st, 0) == pid[i], "waitpid");
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			die("writer process failed");
	}
	t0 = now_ns() - t0;
	close(ready[0]);
	return (double)t0 / (double)(n / np * np);
}

/* ---- sockets: reads of HTTP request heads on an accepted connection.
 * A forked client queues a batch of heads (each with a session cookie),
 * then the server reads them one head per call, timed; c->a: 0 read, 1 recv.
 */
#define HEADS 100

/* Request head i; `rotate`: the session cookie takes 8 values in turn (a
 * pooled thread serving many users), else it stays (one keep-alive user). */
static int head(char *out, size_t sz, int i, bool rotate)
{
	return snprintf(out, sz,
			"POST /upload/%06d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
			"User-Agent: bench/1.0\r\nAccept: */*\r\n"
			"Content-Type: application/octet-stream\r\n"
			"Cookie: theme=dark; sid=%016x; lang=en\r\n"
			"Content-Length: 0\r\n\r\n",
			i % 1000000, 0x5e55104u + (rotate ? (unsigned)(i % 8) : 0));
}

static double case_sock(const struct bcase *c, long n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int ls, fd, p2c[2], c2p[2], st, hl;
	long batches = (n + HEADS - 1) / HEADS, bt, i, reads = 0;
	char h[512], buf[512], tok = 't';
	int64_t acc = 0, t0;
	pid_t pid;

	hl = head(h, sizeof(h), 0, c->b);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	check(ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		      listen(ls, 4) == 0 &&
		      getsockname(ls, (struct sockaddr *)&sa, &sl) == 0,
	      "listen");
	check(pipe(p2c) == 0 && pipe(c2p) == 0, "pipe");
	pid = fork();
	check(pid >= 0, "fork");
	if (pid == 0) {
		static char batch[HEADS * 512];
		int cs = socket(AF_INET, SOCK_STREAM, 0), j, len;
		close(ls);
		check(connect(cs, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		      "connect");
		for (bt = 0; bt < batches; bt++) {
			if (read(p2c[0], &tok, 1) != 1)
				_exit(0);
			for (len = 0, j = 0; j < HEADS; j++)
				len += head(batch + len, 512, (int)(bt * HEADS + j), c->b);
			if (write(cs, batch, (size_t)len) != len)
				_exit(4);
			check(write(c2p[1], &tok, 1) == 1, "token");
		}
		_exit(0);
	}
	fd = accept(ls, NULL, NULL);
	check(fd >= 0, "accept");
	for (bt = 0; bt < batches; bt++) {
		long want = (long)HEADS * hl, got = 0;
		check(write(p2c[1], &tok, 1) == 1, "token");
		check(read(c2p[0], &tok, 1) == 1, "token");
		t0 = now_ns();
		while (got < want) {
			ssize_t r = c->a ? recv(fd, buf, (size_t)hl, 0)
					 : read(fd, buf, (size_t)hl);
			if (r <= 0)
				die("socket read: %s", strerror(errno));
			got += r;
			reads++;
		}
		acc += now_ns() - t0;
		(void)i;
	}
	close(fd);
	close(ls);
	close(p2c[1]);
	waitpid(pid, &st, 0);
	close(p2c[0]);
	close(c2p[0]);
	close(c2p[1]);
	return (double)acc / (double)reads;
}

/* ---- programs started by the worker (which itself runs bare) ------------- */

/* /bin/true started n times; c->a: 0 config BENCH_CONF10, 1 BENCH_CONF_ONLY */
static double case_start(const struct bcase *c, long n)
{
	char *argv[] = {"/bin/true", NULL};
	char **envp = child_env(env(c->a ? "BENCH_CONF_ONLY" : "BENCH_CONF10"));
	int64_t acc = 0;
	long i;

	for (i = 0; i < n; i++)
		acc += spawn_wait(argv, envp, false);
	return (double)acc / (double)n;
}

/* dd bs=4k count=100000 into the root: wall time of the whole run (the
 * file is removed by a program with the same environment, so the shared
 * total gets its bytes back) */
static double case_dd(const struct bcase *c, long n)
{
	char of[4200];
	const char *out = bpath("root/dd.out");
	char *dd[] = {"/usr/bin/dd", "if=/dev/zero", of, "bs=4k",
		      "count=100000", "status=none", NULL};
	char *rm[] = {"/bin/rm", "-f", (char *)out, NULL};
	char **envp = child_env(env("BENCH_CONF"));
	int64_t t;

	snprintf(of, sizeof(of), "of=%s", out);
	spawn_wait(rm, envp, false);
	t = spawn_wait(dd, envp, false);
	spawn_wait(rm, envp, false);
	return (double)t;
}

/* the Python upload server: tests/bench/upload.py prints requests/s */
static double case_upload(const struct bcase *c, long n)
{
	char cmd[8192], line[256];
	FILE *p;
	double rps = 0;
	char **e;

	/* upload.py starts its server with the preload when guarded */
	for (e = child_env(env("BENCH_CONF")); *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) == 0)
			setenv("BENCH_SERVER_PRELOAD", *e + 11, 1);
	setenv("UPLOADGUARD_CONFIG", env("BENCH_CONF"), 1);
	snprintf(cmd, sizeof(cmd), "python3 %s %s %ld 8 65536",
		 env("BENCH_UPLOAD_PY"), bpath("root/e2e"), n);
	p = popen(cmd, "r");
	check(p != NULL, "popen");
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "rps %lf", &rps) == 1)
			break;
	if (pclose(p) != 0 || rps <= 0)
		die("upload.py failed");
	return 1e9 / rps;
}

/* ---- the case table ---------------------------------------------------------- */

#define WR(nm, sec, lbl, sz, where, kind, it, tk, tg)                           \
	{nm, sec, lbl, case_write, it, sz, where, kind, 0, U_NS, tk, tg, 0}

static const char S_FAST[] = "Fast path: an fd that is not guarded";
static const char S_GUARD[] = "Guarded file (tracked path)";
static const char S_NAMES[] = "Opens and names";
static const char S_PAR[] = "Threads and processes (aggregate throughput)";
static const char S_SOCK[] = "Sockets: `[session] from = cookie:sid` sniffing";
static const char S_START[] = "Process start (`/bin/true`, 10 roots)";
static const char S_E2E[] = "End to end";

static const struct bcase cases[] = {
	WR("null_write_64", S_FAST, "write 64 B to /dev/null", 64, W_NULL, K_WRITE, 200000, T_MAX, 1.01),
	WR("null_write_4k", S_FAST, "write 4 KiB to /dev/null", 4096, W_NULL, K_WRITE, 200000, T_MAX, 1.01),
	WR("null_write_64k", S_FAST, "write 64 KiB to /dev/null", 65536, W_NULL, K_WRITE, 200000, T_MAX, 1.01),
	WR("null_writev_64", S_FAST, "writev 64 B (2 parts) to /dev/null", 64, W_NULL, K_WRITEV, 200000, T_MAX, 1.01),
	WR("plain_write_64", S_FAST, "write 64 B to a file outside the roots", 64, W_PLAIN, K_WRITE, 100000, T_MAX, 1.01),
	WR("plain_write_4k", S_FAST, "write 4 KiB to a file outside the roots", 4096, W_PLAIN, K_WRITE, 20000, T_MAX, 1.01),
	WR("plain_write_64k", S_FAST, "write 64 KiB to a file outside the roots", 65536, W_PLAIN, K_WRITE, 2000, T_MAX, 1.01),
	WR("plain_pwrite_64", S_FAST, "pwrite 64 B to a file outside the roots", 64, W_PLAIN, K_PWRITE, 100000, T_MAX, 1.01),
	WR("root_write_64", S_GUARD, "write 64 B (appending)", 64, W_ROOT, K_WRITE, 100000, T_MAX, 1.05),
	WR("root_write_4k", S_GUARD, "write 4 KiB (appending)", 4096, W_ROOT, K_WRITE, 20000, T_MAX, 1.02),
	WR("root_write_64k", S_GUARD, "write 64 KiB (appending)", 65536, W_ROOT, K_WRITE, 2000, T_NONE, 0),
	WR("root_pwrite_64", S_GUARD, "pwrite 64 B at offset 0", 64, W_ROOT, K_PWRITE, 100000, T_MAX, 1.05),
	WR("root_writev_64", S_GUARD, "writev 64 B (2 parts, appending)", 64, W_ROOT, K_WRITEV, 100000, T_MAX, 1.05),
	WR("root_fwrite_64", S_GUARD, "fwrite 64 B to a guarded stream", 64, W_ROOT, K_FWRITE, 1000000, T_MAX, 1.15),
	{"root_ftruncate", S_GUARD, "ftruncate (4 KiB / 0 alternately)", case_ftruncate, 20000, 0, 0, 0, 0, U_NS, T_NONE, 0, 0},
	{"open_ro_plain", S_NAMES, "open O_RDONLY + close, outside the roots", case_open, 20000, 0, 0, 0, 0, U_NS, T_MAX, 1.03, 0},
	{"open_wr_plain", S_NAMES, "open O_WRONLY + close, outside the roots", case_open, 20000, 0, 1, 0, 0, U_NS, T_MAX, 1.03, 0},
	{"open_wr_root", S_NAMES, "open O_WRONLY + close, inside a root", case_open, 20000, 0, 2, 0, 0, U_NS, T_MAX, 1.30, 0},
	{"creat_root", S_NAMES, "open O_CREAT|O_EXCL + close + unlink, in a root", case_open, 5000, 0, 3, 0, 0, U_NS, T_NONE, 0, 0},
	{"rename_in", S_NAMES, "rename of a 4 KiB file into a root (sibling dir)", case_rename, 5000, 0, 0, 0, 0, U_NS, T_MAX, 1.20, 0},
	{"rename_out", S_NAMES, "rename of a 4 KiB file out of a root", case_rename, 5000, 0, 1, 0, 0, U_NS, T_NONE, 0, 0},
	{"thr1", S_PAR, "1 thread, 4 KiB writes to its own guarded file", case_threads, 20000, 4096, 1, 0, 0, U_MIBS, T_MIN, 0.97, 0},
	{"thr2", S_PAR, "2 threads, 4 KiB writes to their own guarded files", case_threads, 20000, 4096, 2, 0, 0, U_MIBS, T_MIN, 0.97, 0},
	{"thr8", S_PAR, "8 threads, 4 KiB writes to their own guarded files", case_threads, 24000, 4096, 8, 0, 0, U_MIBS, T_MIN, 0.97, 0},
	{"proc4", S_PAR, "4 processes, 4 KiB writes into one subtree (max_total)", case_procs, 24000, 4096, 4, 0, 0, U_MIBS, T_NONE, 0, 0},
	{"sock_read_same", S_SOCK, "read() of one request head (~250 B), same cookie each time", case_sock, 20000, 0, 0, 0, 0, U_NS, T_NONE, 0, 0},
	{"sock_read", S_SOCK, "read() of one request head (~250 B), 8 cookies in turn", case_sock, 20000, 0, 0, 1, 0, U_NS, T_NONE, 0, 0},
	{"sock_recv", S_SOCK, "recv() of one request head (~250 B), 8 cookies in turn", case_sock, 20000, 0, 1, 1, 0, U_NS, T_NONE, 0, 0},
	{"start_only", S_START, "`[guard] only` excluding it", case_start, 100, 0, 1, 0, F_EXEC, U_US, T_MAX, 1.10, 0},
	{"start_guard", S_START, "guarded", case_start, 100, 0, 0, 0, F_EXEC, U_US, T_MAX, 1.30, 0},
	{"e2e_upload", S_E2E, "Python ThreadingHTTPServer, 2,000 PUTs of 64 KiB, 8 clients", case_upload, 2000, 0, 0, 0, F_EXEC | F_NOWARM, U_RPS, T_MIN, 0.97, 5},
	{"e2e_dd", S_E2E, "dd bs=4k count=100000 (400 MB) into a root, wall", case_dd, 1, 0, 0, 0, F_EXEC | F_NOWARM, U_MS, T_NONE, 0, 5},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const struct bcase *find_case(const char *name)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	die("no case %s (bench list)", name);
	return NULL;
}

static long iters_of(const struct bcase *c)
{
	const char *o = getenv("BENCH_ITERS");

	if (o && *o)
		return atol(o);
	if (quick() && !(c->flags & F_NOWARM))
		return c->iters / 4 ? c->iters / 4 : 1;
	if (quick() && c->fn == case_upload)
		return 400;
	return c->iters;
}

/* ---- worker: one measurement ------------------------------------------------ */

static int worker(const char *name)
{
	const struct bcase *c = find_case(name);
	long n = iters_of(c);
	double v[5], best;
	int i, nb = (c->flags & F_NOWARM) ? 1 : 5;
	struct rlimit rl;

	memset(wbuf, 'x', sizeof(wbuf));
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* a warm-up, then the least disturbed of 5 batches of n/2: other
	 * load on the machine only ever adds time */
	if (nb > 1) {
		n = n / 2 ? n / 2 : 1;
		c->fn(c, n / 2 ? n / 2 : 1);
	}
	for (i = 0; i < nb; i++)
		v[i] = c->fn(c, n);
	for (best = v[0], i = 1; i < nb; i++)
		best = v[i] < best ? v[i] : best;
	printf("%.3f\n", best);
	return 0;
}

/* ---- orchestration ----------------------------------------------------------- */

static const char *self_exe(void)
{
	static char p[4096];
	ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);

	check(n > 0, "readlink /proc/self/exe");
	p[n] = '\0';
	return p;
}

/* Runs argv with the variant's environment; returns its first stdout line
 * parsed as numbers into v (up to nv).  preload: put the shim in the
 * program's own LD_PRELOAD. */
static int run_capture(char *const argv[], bool guarded, bool preload,
		       const char *conf, double *v, int nv)
{
	int pfd[2], st, k = 0;
	char buf[512];
	ssize_t r, got = 0;
	pid_t pid;
	char *p, *end;

	check(pipe(pfd) == 0, "pipe");
	pid = fork();
	check(pid >= 0, "fork");
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		setenv("BENCH_VARIANT", guarded ? "guarded" : "bare", 1);
		setenv("UPLOADGUARD_CONFIG", conf, 1);
		if (guarded && preload)
			setenv("LD_PRELOAD", env("BENCH_SHIM"), 1);
		else
			unsetenv("LD_PRELOAD");
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while ((r = read(pfd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += r;
	close(pfd[0]);
	buf[got] = '\0';
	check(waitpid(pid, &st, 0) == pid, "waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("%s %s (%s) failed (status %d)", argv[1], argv[2],
		    guarded ? "guarded" : "bare", st);
	for (p = buf; k < nv; p = end) {
		v[k] = strtod(p, &end);
		if (end == p)
			break;
		k++;
	}
	return k;
}

struct result {
	const struct bcase *c;
	double bare, guard, ratio, rmin, rmax; /* ratio: guarded/bare, in the
						 unit's sense (rates: higher is better) */
	bool pass;
};

static double to_unit(const struct bcase *c, double ns)
{
	switch (c->unit) {
	case U_US:
		return ns / 1e3;
	case U_MS:
		return ns / 1e6;
	case U_MIBS:
		return (double)c->size / ns * 1e9 / 1048576.0;
	case U_RPS:
		return 1e9 / ns;
	default:
		return ns;
	}
}

static const char *unit_name(enum unit u)
{
	static const char *n[] = {"ns", "µs", "ms", "MiB/s", "req/s"};
	return n[u];
}

static void fmt_val(char *out, size_t sz, double v, enum unit u)
{
	if (v >= 100)
		snprintf(out, sz, "%.0f %s", v, unit_name(u));
	else
		snprintf(out, sz, "%.1f %s", v, unit_name(u));
}

static void print_header(void)
{
	printf("| case | bare | guarded | ratio | rounds min–max | target | |\n");
	printf("|---|---:|---:|---:|---:|---:|---|\n");
}

static void print_row(const struct result *r)
{
	char b[64], g[64], t[32] = "", verdict[32] = "";

	fmt_val(b, sizeof(b), r->bare, r->c->unit);
	fmt_val(g, sizeof(g), r->guard, r->c->unit);
	if (r->c->tk != T_NONE) {
		snprintf(t, sizeof(t), "%s %.2f", r->c->tk == T_MAX ? "≤" : "≥",
			 r->c->target);
		/* the target inside the rounds' spread: load moved it */
		snprintf(verdict, sizeof(verdict), "%s%s",
			 r->pass ? "PASS" : "**MISS**",
			 r->rmin <= r->c->target && r->c->target <= r->rmax
				 ? " (noisy)" : "");
	}
	printf("| %s | %s | %s | %.3f | %.3f–%.3f | %s | %s |\n", r->c->label,
	       b, g, r->ratio, r->rmin, r->rmax, t, verdict);
	fflush(stdout);
}

static void measure(const struct bcase *c, struct result *res)
{
	char *argv[] = {(char *)self_exe(), "worker", (char *)c->name, NULL};
	int rounds = quick() ? 3 : c->rounds ? c->rounds : 7, i;
	double b[16], g[16], rr[16], x;
	const char *conf = env("BENCH_CONF");
	bool preload = !(c->flags & F_EXEC);
	bool rate = c->unit == U_MIBS || c->unit == U_RPS;

	for (i = 0; i < rounds; i++) {
		/* alternate which goes first, too */
		if (i & 1) {
			run_capture(argv, true, preload, conf, &g[i], 1);
			run_capture(argv, false, preload, conf, &b[i], 1);
		} else {
			run_capture(argv, false, preload, conf, &b[i], 1);
			run_capture(argv, true, preload, conf, &g[i], 1);
		}
		rr[i] = rate ? b[i] / g[i] : g[i] / b[i];
	}
	res->c = c;
	res->bare = to_unit(c, median(b, rounds));
	res->guard = to_unit(c, median(g, rounds));
	res->ratio = rate ? median(b, rounds) / median(g, rounds)
			  : median(g, rounds) / median(b, rounds);
	res->rmin = res->rmax = rr[0];
	for (i = 1; i < rounds; i++) {
		x = rr[i];
		res->rmin = x < res->rmin ? x : res->rmin;
		res->rmax = x > res->rmax ? x : res->rmax;
	}
	res->pass = c->tk == T_MAX   ? res->ratio <= c->target
		    : c->tk == T_MIN ? res->ratio >= c->target
				     : true;
}

static int run_cases(int argc, char **argv)
{
	const char *sec = NULL;
	struct result r;
	size_t i;
	int k, misses = 0;

	printf("Ratios are guarded / bare: time per call for ns/µs/ms rows, "
	       "throughput for MiB/s and req/s rows. \"(noisy)\": the target "
	       "lies inside the per-round spread, so load on the machine "
	       "decided the verdict; the callgrind rows below are exact.\n\n");
	print_header();
	for (i = 0; i < NCASES; i++) {
		const struct bcase *c = &cases[i];
		if (argc > 0) {
			for (k = 0; k < argc; k++)
				if (strcmp(argv[k], c->name) == 0)
					break;
			if (k == argc)
				continue;
		}
		if (c->section != sec) {
			sec = c->section;
			printf("| **%s** | | | | | | |\n", sec);
		}
		measure(c, &r);
		print_row(&r);
		misses += !r.pass;
	}
	printf("\n");
	return 0;
}

/* ---- memory: RSS with 10,000 open guarded files -------------------------------- */

#define MEM_FILES 10000

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	check(f != NULL, "/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int mem_worker(void)
{
	static int fds[MEM_FILES];
	struct rlimit rl;
	long r0, r1;
	int i;

	check(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	if (rl.rlim_max < MEM_FILES + 64)
		die("RLIMIT_NOFILE hard limit %ld < %d", (long)rl.rlim_max,
		    MEM_FILES + 64);
	rl.rlim_cur = rl.rlim_max;
	check(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit");
	mkdir(bpath("root/mem"), 0755);
	r0 = rss_kib();
	/* one byte each: the shim makes a file's record at the first write
	 * (an open alone costs nothing) */
	for (i = 0; i < MEM_FILES; i++) {
		fds[i] = xopen(bpath("root/mem/f%05d", i), O_WRONLY | O_CREAT);
		check(write(fds[i], "x", 1) == 1, "write");
	}
	r1 = rss_kib();
	printf("%ld %ld\n", r0, r1);
	for (i = 0; i < MEM_FILES; i++)
		close(fds[i]);
	return 0;
}

static int mem_main(void)
{
	char *argv[] = {(char *)self_exe(), "memworker", NULL};
	const char *conf = env("BENCH_CONF");
	double v[2], b0[8], b1[8], g0[8], g1[8], fixed, per;
	int i, rounds = 3;

	for (i = 0; i < rounds; i++) {
		check(run_capture(argv, false, true, conf, v, 2) == 2, "mem");
		b0[i] = v[0], b1[i] = v[1] - v[0];
		check(run_capture(argv, true, true, conf, v, 2) == 2, "mem");
		g0[i] = v[0], g1[i] = v[1] - v[0];
	}
	fixed = (median(g0, rounds) - median(b0, rounds)) / 1024.0;
	per = (median(g1, rounds) - median(b1, rounds)) * 1024.0 / MEM_FILES;
	printf("| memory (VmRSS, median of %d) | bare | guarded | over bare | "
	       "target | |\n|---|---:|---:|---:|---:|---|\n", rounds);
	printf("| at start (before opening) | %.2f MiB | %.2f MiB | %.2f MiB | "
	       "≤ 1 MiB | %s |\n",
	       median(b0, rounds) / 1024, median(g0, rounds) / 1024, fixed,
	       fixed <= 1.0 ? "PASS" : "**MISS**");
	printf("| growth with %d open guarded files, one byte written to each | %.2f MiB | %.2f MiB | "
	       "%.0f B per file | ≤ 256 B | %s |\n\n",
	       MEM_FILES, median(b1, rounds) / 1024, median(g1, rounds) / 1024,
	       per, per <= 256 ? "PASS" : "**MISS**");
	return 0;
}

/* ---- callgrind: instructions per call, noise-free ------------------------------ */

enum cgk { CG_NULL_WRITE, CG_PLAIN_PWRITE, CG_NULL_WRITEV, CG_ROOT_WRITE,
	   CG_ROOT_PWRITE, CG_ROOT_FWRITE, CG_PLAIN_OPEN };

static const struct {
	const char *name, *label;
	double max_extra; /* target on extra instructions, 0: none */
} cgcases[] = {
	[CG_NULL_WRITE] = {"null_write", "write 64 B to /dev/null (not guarded)", 10},
	[CG_PLAIN_PWRITE] = {"plain_pwrite", "pwrite 64 B to a file outside the roots", 10},
	[CG_NULL_WRITEV] = {"null_writev", "writev 64 B to /dev/null (not guarded)", 10},
	[CG_ROOT_WRITE] = {"root_write", "write 64 B to a guarded file (appending)", 0},
	[CG_ROOT_PWRITE] = {"root_pwrite", "pwrite 64 B at 0 to a guarded file", 0},
	[CG_ROOT_FWRITE] = {"root_fwrite", "fwrite 64 B to a guarded stream", 0},
	[CG_PLAIN_OPEN] = {"plain_open", "open O_WRONLY + close outside the roots", 0},
};
#define NCG (sizeof(cgcases) / sizeof(cgcases[0]))

/* The function callgrind counts (--toggle-collect=cg_loop). */
__attribute__((noinline)) void cg_loop(int k, int fd, FILE *f, const char *p,
				       long n)
{
	struct iovec iov[2] = {{wbuf, 32}, {wbuf + 32, 32}};
	long i;

	for (i = 0; i < n; i++) {
		switch (k) {
		case CG_NULL_WRITE:
		case CG_ROOT_WRITE:
			write(fd, wbuf, 64);
			break;
		case CG_PLAIN_PWRITE:
		case CG_ROOT_PWRITE:
			pwrite(fd, wbuf, 64, 0);
			break;
		case CG_NULL_WRITEV:
			writev(fd, iov, 2);
			break;
		case CG_ROOT_FWRITE:
			fwrite(wbuf, 1, 64, f);
			break;
		default:
			close(open(p, O_WRONLY));
			break;
		}
	}
}

static int cg_worker(const char *name, long n)
{
	const char *path = NULL;
	size_t k;
	int fd;
	FILE *f = NULL;

	for (k = 0; k < NCG; k++)
		if (strcmp(cgcases[k].name, name) == 0)
			break;
	if (k == NCG)
		die("no callgrind case %s", name);
	switch (k) {
	case CG_NULL_WRITE:
	case CG_NULL_WRITEV:
		path = "/dev/null";
		break;
	case CG_PLAIN_PWRITE:
	case CG_PLAIN_OPEN:
		path = bpath("plain/cg");
		break;
	default:
		path = bpath("root/cg");
	}
	fd = xopen(path, O_WRONLY | O_CREAT | O_TRUNC);
	if (k == CG_ROOT_FWRITE)
		f = fdopen(fd, "w");
	cg_loop((int)k, fd, f, path, 16); /* warm: lazy binding, first use */
	cg_loop((int)k, fd, f, path, n);
	if (f)
		fclose(f);
	else
		close(fd);
	return 0;
}

/* Total instructions counted in cg_loop for n calls. */
static double cg_count(const char *name, long n, bool guarded)
{
	char out[4200], nbuf[32], line[512], *argv[16];
	const char *file = bpath("callgrind.out");
	double ir = -1, x;
	FILE *f;
	int i = 0;

	snprintf(out, sizeof(out), "--callgrind-out-file=%s", file);
	snprintf(nbuf, sizeof(nbuf), "%ld", n);
	argv[i++] = "/usr/bin/valgrind";
	argv[i++] = "--tool=callgrind";
	argv[i++] = "--toggle-collect=cg_loop";
	argv[i++] = out;
	argv[i++] = (char *)self_exe();
	argv[i++] = "cgloop";
	argv[i++] = (char *)name;
	argv[i++] = nbuf;
	argv[i] = NULL;
	unlink(file);
	setenv("BENCH_VARIANT", guarded ? "guarded" : "bare", 1);
	spawn_wait(argv, child_env(env("BENCH_CONF")), true);
	f = fopen(file, "r");
	check(f != NULL, file);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "summary: %lf", &x) == 1 ||
		    sscanf(line, "totals: %lf", &x) == 1)
			ir = x;
	fclose(f);
	unlink(file);
	if (ir < 0)
		die("no totals in callgrind output for %s", name);
	return ir;
}

static int cg_main(void)
{
	long n = 20000;
	size_t k;

	if (access("/usr/bin/valgrind", X_OK) != 0) {
		printf("valgrind not installed: callgrind rows skipped\n\n");
		return 0;
	}
	printf("| instructions per call (callgrind, %ld calls, user space) "
	       "| bare | guarded | extra | target | |\n"
	       "|---|---:|---:|---:|---:|---|\n", n);
	for (k = 0; k < NCG; k++) {
		/* counted: n calls minus 0 calls, so the set-up cancels */
		double b = (cg_count(cgcases[k].name, n, false) -
			    cg_count(cgcases[k].name, 0, false)) / (double)n;
		double g = (cg_count(cgcases[k].name, n, true) -
			    cg_count(cgcases[k].name, 0, true)) / (double)n;
		char t[32] = "", v[16] = "";

		if (cgcases[k].max_extra > 0) {
			snprintf(t, sizeof(t), "≤ %.0f extra", cgcases[k].max_extra);
			snprintf(v, sizeof(v), "%s",
				 g - b <= cgcases[k].max_extra ? "PASS" : "**MISS**");
		}
		printf("| %s | %.1f | %.1f | %+.1f | %s | %s |\n",
		       cgcases[k].label, b, g, g - b, t, v);
		fflush(stdout);
	}
	printf("\n");
	return 0;
}

/* ---- strace, for scale ---------------------------------------------------------- */

static int strace_main(void)
{
	const char *st = "/usr/bin/strace", *sum = bpath("strace.out");
	char pre[4200], *argv[16], line[512], *wargv[4];
	double bare, guard, traced;
	long n = 20000;
	int i = 0;
	FILE *f;

	if (access(st, X_OK) != 0) {
		printf("strace not installed: strace rows skipped\n\n");
		return 0;
	}
	setenv("BENCH_ITERS", "20000", 1);
	wargv[0] = (char *)self_exe();
	wargv[1] = "worker";
	wargv[2] = "root_write_64";
	wargv[3] = NULL;
	run_capture(wargv, false, true, env("BENCH_CONF"), &bare, 1);
	run_capture(wargv, true, true, env("BENCH_CONF"), &guard, 1);
	/* the same case, traced by strace -f (every syscall stops the
	 * process twice): what a ptrace-based guard would cost */
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", env("BENCH_SHIM"));
	argv[i++] = (char *)st;
	argv[i++] = "-f";
	argv[i++] = "-qq";
	argv[i++] = "-o";
	argv[i++] = "/dev/null";
	argv[i++] = wargv[0];
	argv[i++] = "worker";
	argv[i++] = "root_write_64";
	argv[i] = NULL;
	run_capture(argv, false, false, env("BENCH_CONF"), &traced, 1);
	printf("| write 64 B to a file in a root, %ld calls | ns per call | "
	       "vs bare |\n|---|---:|---:|\n", n);
	printf("| bare | %.0f | 1.00 |\n| LD_PRELOAD guard | %.0f | %.2f |\n"
	       "| bare under `strace -f` (for scale) | %.0f | %.1f |\n\n",
	       bare, guard, guard / bare, traced, traced / bare);
	/* which syscalls the guarded case makes: strace -f -c */
	i = 0;
	argv[i++] = (char *)st;
	argv[i++] = "-f";
	argv[i++] = "-c";
	argv[i++] = "-E";
	argv[i++] = pre;
	argv[i++] = "-o";
	argv[i++] = (char *)sum;
	argv[i++] = wargv[0];
	argv[i++] = "worker";
	argv[i++] = "root_write_64";
	argv[i] = NULL;
	setenv("BENCH_ITERS", "2000", 1);
	run_capture(argv, false, false, env("BENCH_CONF"), &traced, 1);
	printf("`strace -f -c` of the guarded case (5 batches of 1,000 writes "
	       "after a 500-write warm-up; the top rows):\n\n```\n");
	f = fopen(sum, "r");
	check(f != NULL, sum);
	for (i = 0; i < 9 && fgets(line, sizeof(line), f); i++)
		fputs(line, stdout);
	fclose(f);
	unlink(sum);
	printf("```\n\n");
	unsetenv("BENCH_ITERS");
	return 0;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc >= 3 && strcmp(argv[1], "worker") == 0)
		return worker(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "cgloop") == 0)
		return cg_worker(argv[2], atol(argv[3]));
	if (argc >= 2 && strcmp(argv[1], "memworker") == 0)
		return mem_worker();
	if (getenv("LD_PRELOAD") && *getenv("LD_PRELOAD"))
		die("run the orchestrator without LD_PRELOAD");
	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		for (i = 0; i < NCASES; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "all") == 0)
		return run_cases(0, NULL);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run_cases(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "mem") == 0)
		return mem_main();
	if (argc >= 2 && strcmp(argv[1], "callgrind") == 0)
		return cg_main();
	if (argc >= 2 && strcmp(argv[1], "strace") == 0)
		return strace_main();
	fprintf(stderr, "usage: bench all | run CASE... | list | mem | "
			"callgrind | strace | worker CASE\n");
	return 2;
}
