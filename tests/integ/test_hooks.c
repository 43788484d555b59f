/*
 * Every interposed function, through the real preload: the size on disk,
 * the errno the caller saw and the logged line.  Without the guard each
 * cap assertion fails.  Tests are named hook_<symbol> so that
 * tests/integ/test_symbols.sh can check every name in shim/hooks.def has
 * one here or in another integration test.
 */
#include <dirent.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <netinet/in.h>

#include "ugtest.h"
#include "uploadguard.h"

#include "libc_names.h"

#define CAP 4096

static const char config[] = "[guard]\n"
			     "mode = deny\n"
			     "log = @@/events.jsonl\n"
			     "[session]\n"
			     "from = api, cookie:sid\n"
			     "salt = t\n"
			     "[upload @@/cap]\n"
			     "max_file = 4096\n"
			     "[upload @@/tot]\n"
			     "max_total = 10000\n"
			     "[upload @@/files]\n"
			     "max_files = 2\n"
			     "[upload @@/logm]\n"
			     "max_file = 4096\n"
			     "mode = log\n"
			     "[upload @@/sess]\n"
			     "max_session = 5000\n";
static const char *const dirs[] = {"cap", "tot", "files", "logm", "out",
				   "sess", NULL};

static char buf6k[6000];

/* ==== data writers ====================================================== */

/* A writer: does its op of n bytes at off (or at the position). */
typedef ssize_t (*writer_fn)(int fd, const char *b, size_t n, off_t off);

/* A 6000-byte write into a 4096 cap writes 4096 and says so; the next
 * fails with EFBIG; the file holds exactly 4096 bytes; both are logged. */
static void cap_case(const char *op, writer_fn w)
{
	const char *path = P("cap/%s", op);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	int before;
	ssize_t r;

	assert_true(fd >= 0);
	before = log_lines();
	r = w(fd, buf6k, sizeof(buf6k), 0);
	assert_int_equal(r, CAP);
	EV(before, "op", Q(op), "rule", Q("max_file"), "verdict", Q("denied"),
	   "requested", "6000", "allowed", "4096", "limit", "4096");
	errno = 0;
	r = w(fd, buf6k, 100, CAP);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EFBIG);
	EV(before + 1, "op", Q(op), "errno", Q("EFBIG"), "allowed", "0",
	   "ret", "-1");
	close(fd);
	assert_int_equal(disk_size(path), CAP);
}

static ssize_t w_write(int fd, const char *b, size_t n, off_t off)
{
	(void)off;
	return write(fd, b, n);
}
static ssize_t w_pwrite(int fd, const char *b, size_t n, off_t off)
{
	return pwrite(fd, b, n, off);
}
static ssize_t w_pwrite64(int fd, const char *b, size_t n, off_t off)
{
	return pwrite64(fd, b, n, off);
}
/* vectors split the bytes over three parts */
static int split(struct iovec *iov, const char *b, size_t n)
{
	size_t a = n / 3, c = n / 3;

	iov[0] = (struct iovec){(void *)b, a};
	iov[1] = (struct iovec){(void *)(b + a), c};
	iov[2] = (struct iovec){(void *)(b + a + c), n - a - c};
	return 3;
}
static ssize_t w_writev(int fd, const char *b, size_t n, off_t off)
{
	struct iovec v[3];
	(void)off;
	return writev(fd, v, split(v, b, n));
}
static ssize_t w_pwritev(int fd, const char *b, size_t n, off_t off)
{
	struct iovec v[3];
	return pwritev(fd, v, split(v, b, n), off);
}
static ssize_t w_pwritev64(int fd, const char *b, size_t n, off_t off)
{
	struct iovec v[3];
	return pwritev64(fd, v, split(v, b, n), off);
}
static ssize_t w_pwritev2(int fd, const char *b, size_t n, off_t off)
{
	struct iovec v[3];
	return pwritev2(fd, v, split(v, b, n), off, 0);
}
static ssize_t w_pwritev64v2(int fd, const char *b, size_t n, off_t off)
{
	struct iovec v[3];
	return pwritev64v2(fd, v, split(v, b, n), off, 0);
}
/* transfers read from a scratch source file of n bytes */
static int source(size_t n)
{
	const char *p = P("out/src");
	int fd;

	make_file(p, n);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	return fd;
}
static ssize_t w_sendfile(int fd, const char *b, size_t n, off_t off)
{
	int in = source(n);
	ssize_t r;
	(void)b;
	(void)off;
	r = sendfile(fd, in, NULL, n);
	close(in);
	return r;
}
static ssize_t w_sendfile64(int fd, const char *b, size_t n, off_t off)
{
	int in = source(n);
	off64_t o = 0;
	ssize_t r;
	(void)b;
	(void)off;
	r = sendfile64(fd, in, &o, n);
	close(in);
	return r;
}
static ssize_t w_copy_file_range(int fd, const char *b, size_t n, off_t off)
{
	int in = source(n);
	ssize_t r;
	(void)b;
	(void)off;
	/* like cp: ask for far more than the source has */
	r = copy_file_range(in, NULL, fd, NULL, (size_t)1 << 40, 0);
	close(in);
	return r;
}
static ssize_t w_splice(int fd, const char *b, size_t n, off_t off)
{
	int p[2];
	ssize_t r;
	(void)off;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], b, n), (ssize_t)n);
	close(p[1]);
	r = splice(p[0], NULL, fd, NULL, n, 0);
	close(p[0]);
	return r;
}

#define CAP_TEST(sym)                                                          \
	static void hook_##sym(void **s)                                       \
	{                                                                      \
		(void)s;                                                       \
		cap_case(#sym, w_##sym);                                       \
	}
CAP_TEST(write)
CAP_TEST(pwrite)
CAP_TEST(pwrite64)
CAP_TEST(writev)
CAP_TEST(pwritev)
CAP_TEST(pwritev64)
CAP_TEST(pwritev2)
CAP_TEST(pwritev64v2)
CAP_TEST(sendfile)
CAP_TEST(sendfile64)
CAP_TEST(copy_file_range)
CAP_TEST(splice)

/* cp's copy_file_range asks for 2^62 bytes: a source that fits passes with
 * no event and nothing reserved beyond its size. */
static void test_copy_range_fits_no_event(void **s)
{
	const char *path = P("cap/cfr-fits");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int in = source(3000), before = log_lines();

	(void)s;
	assert_int_equal(copy_file_range(in, NULL, fd, NULL, (size_t)1 << 62, 0),
			 3000);
	assert_int_equal(copy_file_range(in, NULL, fd, NULL, (size_t)1 << 62, 0),
			 0);
	assert_int_equal(log_lines(), before);
	close(in);
	close(fd);
	assert_int_equal(disk_size(path), 3000);
}

/* A write far past the cap (a sparse file) counts as past the cap. */
static void test_sparse_past_cap(void **s)
{
	const char *path = P("cap/sparse");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)s;
	errno = 0;
	assert_int_equal(pwrite(fd, "x", 1, 1 << 20), -1);
	assert_int_equal(errno, EFBIG);
	close(fd);
	assert_int_equal(disk_size(path), 0);
}

/* Zero-length writes return 0, as the kernel does. */
static void test_zero_length(void **s)
{
	int fd = open(P("cap/zero"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int before = log_lines();

	(void)s;
	assert_int_equal(pwrite(fd, buf6k, CAP, 0), CAP);
	assert_int_equal(write(fd, "", 0), 0);
	assert_int_equal(log_lines(), before);
	close(fd);
}

/* Reads move the position: a write after a read lands where the kernel
 * says, so the cap is cut at the right byte. */
static void hook_read(void **s)
{
	const char *path = P("cap/readpos");
	char rb[3000];
	int fd;

	(void)s;
	make_file(P("out/seed"), 3000);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, buf6k, 3000), 3000);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(read(fd, rb, 2000), 2000);
	/* at 2000: 2096 bytes fit */
	assert_int_equal(write(fd, buf6k, 3000), 2096);
	close(fd);
	assert_int_equal(disk_size(path), CAP);
}

/* A seek moves where the next write lands: the cap is cut there. */
static void seek_case(const char *name, off64_t (*sk)(int, off64_t, int))
{
	const char *path = P("cap/%s", name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	assert_int_equal(sk(fd, 4000, SEEK_SET), 4000);
	assert_int_equal(write(fd, buf6k, 500), 96);
	assert_int_equal(sk(fd, 100, SEEK_SET), 100);
	assert_int_equal(write(fd, buf6k, 500), 500); /* inside: fine */
	assert_int_equal(sk(fd, 0, SEEK_END), CAP);
	errno = 0;
	assert_int_equal(write(fd, buf6k, 1), -1);
	assert_int_equal(errno, EFBIG);
	close(fd);
	assert_int_equal(disk_size(path), CAP);
}

static off64_t sk_lseek(int fd, off64_t o, int w) { return lseek(fd, o, w); }

static void hook_lseek(void **s)
{
	(void)s;
	seek_case("lseek", sk_lseek);
}

static void hook_lseek64(void **s)
{
	(void)s;
	seek_case("lseek64", lseek64);
}

/* O_APPEND writes land at the end, whatever the position says. */
static void test_append(void **s)
{
	const char *path = P("cap/append");
	int fd;

	(void)s;
	make_file(path, 4000);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, buf6k, 500), 96);
	errno = 0;
	assert_int_equal(write(fd, buf6k, 1), -1);
	assert_int_equal(errno, EFBIG);
	close(fd);
	assert_int_equal(disk_size(path), CAP);
}

/* Log mode: the write goes through whole and is logged. */
static void test_log_mode(void **s)
{
	const char *path = P("logm/big");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int before = log_lines();

	(void)s;
	assert_int_equal(write(fd, buf6k, sizeof(buf6k)), 6000);
	EV(before, "verdict", Q("logged"), "rule", Q("max_file"), "ret",
	   "6000", "errno", "null");
	close(fd);
	assert_int_equal(disk_size(path), 6000);
}

/* Writes outside every root are untouched and errno is preserved. */
static void test_unguarded_untouched(void **s)
{
	const char *path = P("out/free");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int before = log_lines();

	(void)s;
	errno = 1234;
	assert_int_equal(write(fd, buf6k, 6000), 6000);
	assert_int_equal(errno, 1234);
	close(fd);
	assert_int_equal(disk_size(path), 6000);
	assert_int_equal(log_lines(), before);
}

/* ==== the open family ==================================================== */

/* An opener creates (path) for writing, or returns -1. */
typedef int (*opener_fn)(const char *path);

static int o_open(const char *p) { return open(p, O_WRONLY | O_CREAT | O_EXCL, 0644); }
static int o_open64(const char *p) { return open64(p, O_WRONLY | O_CREAT, 0644); }
static int o_openat(const char *p) { return openat(AT_FDCWD, p, O_WRONLY | O_CREAT, 0644); }
static int o_openat64(const char *p) { return openat64(AT_FDCWD, p, O_RDWR | O_CREAT, 0644); }
static int o_creat(const char *p) { return creat(p, 0644); }
static int o_creat64(const char *p) { return creat64(p, 0644); }
static int o___open_2(const char *p) { return __open_2(p, O_WRONLY); }
static int o___open64_2(const char *p) { return __open64_2(p, O_WRONLY); }
static int o___openat_2(const char *p) { return __openat_2(AT_FDCWD, p, O_WRONLY); }
static int o___openat64_2(const char *p) { return __openat64_2(AT_FDCWD, p, O_WRONLY); }

/* Creating a third file in a two-file root fails at open with EDQUOT and
 * leaves no file; writes through the opened fd are capped. */
static void open_case(const char *op, opener_fn o, bool creates)
{
	int fd, before, i;

	for (i = 0; i < 2; i++) {
		const char *p = P("files/%s.%d", op, i);
		if (!creates)
			make_file(p, 0);
		fd = o(p);
		assert_true(fd >= 0);
		close(fd);
	}
	if (creates) {
		before = log_lines();
		errno = 0;
		fd = o(P("files/%s.2", op));
		assert_int_equal(fd, -1);
		assert_int_equal(errno, EDQUOT);
		assert_false(exists(P("files/%s.2", op)));
		EV(before, "rule", Q("max_files"), "op", Q(op), "errno",
		   Q("EDQUOT"));
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(unlink(P("files/%s.%d", op, i)), 0);
	/* the cap on a file it opens */
	if (!creates)
		make_file(P("cap/%s", op), 0);
	fd = o(P("cap/%s", op));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf6k, 6000), CAP);
	close(fd);
	assert_int_equal(disk_size(P("cap/%s", op)), CAP);
}

#define OPEN_TEST(sym, creates)                                                \
	static void hook_##sym(void **s)                                       \
	{                                                                      \
		(void)s;                                                       \
		open_case(#sym, o_##sym, creates);                             \
	}
OPEN_TEST(open, true)
OPEN_TEST(open64, true)
OPEN_TEST(openat, true)
OPEN_TEST(openat64, true)
OPEN_TEST(creat, true)
OPEN_TEST(creat64, true)
OPEN_TEST(__open_2, false)
OPEN_TEST(__open64_2, false)
OPEN_TEST(__openat_2, false)
OPEN_TEST(__openat64_2, false)

/* mkstemp and kin: a temp file in a full root is removed again. */
typedef int (*mkstemp_fn)(char *tmpl);
static int m_mkstemp(char *t) { return mkstemp(t); }
static int m_mkstemp64(char *t) { return mkstemp64(t); }
static int m_mkostemp(char *t) { return mkostemp(t, O_CLOEXEC); }
static int m_mkostemp64(char *t) { return mkostemp64(t, O_CLOEXEC); }
static int m_mkstemps(char *t) { return mkstemps(t, 4); }
static int m_mkstemps64(char *t) { return mkstemps64(t, 4); }
static int m_mkostemps(char *t) { return mkostemps(t, 4, 0); }
static int m_mkostemps64(char *t) { return mkostemps64(t, 4, 0); }

static int count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* suffix: the s-forms keep 4 bytes after the XXXXXX */
static void mkstemp_case(const char *op, mkstemp_fn m, const char *suffix)
{
	char t[3][PATH_MAX];
	int fd, i, before;

	for (i = 0; i < 3; i++)
		snprintf(t[i], PATH_MAX, "%s",
			 P("files/%sXXXXXX%s", op, suffix));
	for (i = 0; i < 2; i++) {
		fd = m(t[i]);
		assert_true(fd >= 0);
		close(fd);
	}
	before = log_lines();
	errno = 0;
	assert_int_equal(m(t[2]), -1);
	assert_int_equal(errno, EDQUOT);
	EV(before, "rule", Q("max_files"), "op", Q(op));
	assert_int_equal(count_dir(P("files")), 2);
	for (i = 0; i < 2; i++)
		unlink(t[i]);
	/* a temp file in a capped root is capped */
	snprintf(t[0], PATH_MAX, "%s", P("cap/%sXXXXXX%s", op, suffix));
	fd = m(t[0]);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf6k, 6000), CAP);
	close(fd);
	assert_int_equal(disk_size(t[0]), CAP);
}

#define MKSTEMP_TEST(sym, suffix)                                              \
	static void hook_##sym(void **s)                                       \
	{                                                                      \
		(void)s;                                                       \
		mkstemp_case(#sym, m_##sym, suffix);                           \
	}
MKSTEMP_TEST(mkstemp, "")
MKSTEMP_TEST(mkstemp64, "")
MKSTEMP_TEST(mkostemp, "")
MKSTEMP_TEST(mkostemp64, "")
MKSTEMP_TEST(mkstemps, ".tmp")
MKSTEMP_TEST(mkstemps64, ".tmp")
MKSTEMP_TEST(mkostemps, ".tmp")
MKSTEMP_TEST(mkostemps64, ".tmp")

/* O_TMPFILE in a root is capped; linking it in keeps it; an O_TMPFILE file
 * made elsewhere that does not fit cannot be linked in. */
static void test_o_tmpfile(void **s)
{
	char proc[64];
	int fd, before;

	(void)s;
	fd = open(P("cap"), O_TMPFILE | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf6k, 6000), CAP);
	assert_int_equal(linkat(fd, "", AT_FDCWD, P("cap/linked"),
				AT_EMPTY_PATH),
			 0);
	close(fd);
	assert_int_equal(disk_size(P("cap/linked")), CAP);

	fd = open(P("out"), O_TMPFILE | O_RDWR, 0644);
	assert_int_equal(write(fd, buf6k, 6000), 6000);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	before = log_lines();
	errno = 0;
	assert_int_equal(linkat(AT_FDCWD, proc, AT_FDCWD, P("cap/big"),
				AT_SYMLINK_FOLLOW),
			 -1);
	assert_int_equal(errno, EFBIG);
	assert_false(exists(P("cap/big")));
	EV(before, "op", Q("linkat"), "rule", Q("max_file"));
	/* the file is not lost: it can still go somewhere it fits */
	assert_int_equal(linkat(AT_FDCWD, proc, AT_FDCWD, P("out/kept"),
				AT_SYMLINK_FOLLOW),
			 0);
	close(fd);
	assert_int_equal(disk_size(P("out/kept")), 6000);
}

/* tmpfile() lives in /tmp: a role with /tmp as the root checks it. */
static int role_tmpfile(bool is64)
{
	FILE *f = is64 ? tmpfile64() : tmpfile();
	size_t n;

	if (!f)
		return 10;
	n = fwrite(buf6k, 1, 6000, f);
	if (n != CAP || errno != EFBIG || !ferror(f))
		return 11;
	fclose(f);
	return 0;
}

static void tmpfile_case(const char *role)
{
	char cfg[512];

	snprintf(cfg, sizeof(cfg),
		 "[guard]\nmode = deny\nlog = %s/tmp-events.jsonl\n"
		 "[upload /tmp]\nmax_file = 4096\n",
		 ug_dir);
	assert_int_equal(run_role(role, cfg), 0);
}

static void hook_tmpfile(void **s)
{
	(void)s;
	tmpfile_case("tmpfile");
}

static void hook_tmpfile64(void **s)
{
	(void)s;
	tmpfile_case("tmpfile64");
}

/* Paths that try to go around the root: symlinked dirs, "..", "//",
 * relative paths, dirfds, /proc/self/fd/N/... */
static void test_path_tricks(void **s)
{
	char proc[64];
	const char *tricks[6];
	int dfd, fd, i;

	(void)s;
	assert_int_equal(symlink(P("cap"), P("out/alias")), 0);
	dfd = open(P("out"), O_RDONLY | O_DIRECTORY);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/alias/t5", dfd);
	tricks[0] = P("out/alias/t0");
	tricks[1] = P("out/../cap/t1");
	tricks[2] = P("out//..//cap///t2");
	tricks[3] = proc;
	for (i = 0; i < 4; i++) {
		fd = open(tricks[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, buf6k, 6000), CAP);
		close(fd);
	}
	fd = openat(dfd, "alias/t3", O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, buf6k, 6000), CAP);
	close(fd);
	assert_int_equal(chdir(P("cap")), 0);
	fd = open("t4", O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, buf6k, 6000), CAP);
	close(fd);
	assert_int_equal(chdir("/"), 0);
	close(dfd);
	assert_int_equal(disk_size(P("cap/t3")), CAP);
	assert_int_equal(disk_size(P("cap/t4")), CAP);
}

/* ==== stdio ================================================================ */

/* A putter writes n bytes to f its way; returns bytes taken or -1. */
typedef long (*putter_fn)(FILE *f, const char *b, size_t n);

static long p_fwrite(FILE *f, const char *b, size_t n) { return (long)fwrite(b, 1, n, f); }
static long p_fwrite_unlocked(FILE *f, const char *b, size_t n) { return (long)fwrite_unlocked(b, 1, n, f); }

/* strings: write n bytes as NUL-terminated chunks of 1000 */
static long by_string(FILE *f, const char *b, size_t n,
		      int (*fn)(const char *, FILE *))
{
	char chunk[1001];
	size_t done = 0;

	(void)b;
	while (done < n) {
		size_t k = n - done < 1000 ? n - done : 1000;
		memset(chunk, 's', k);
		chunk[k] = '\0';
		if (fn(chunk, f) == EOF)
			return (long)done;
		done += k;
	}
	return (long)done;
}
static long p_fputs(FILE *f, const char *b, size_t n) { return by_string(f, b, n, fputs); }
static long p_fputs_unlocked(FILE *f, const char *b, size_t n) { return by_string(f, b, n, fputs_unlocked); }

static long by_char(FILE *f, size_t n, int (*fn)(int, FILE *))
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fn('c', f) == EOF)
			return (long)i;
	return (long)i;
}
static int call_putc(int c, FILE *f) { return putc(c, f); }
static int call_putc_unlocked(int c, FILE *f) { return putc_unlocked(c, f); }
static int call_fputc_unlocked(int c, FILE *f) { return fputc_unlocked(c, f); }
static long p_fputc(FILE *f, const char *b, size_t n) { (void)b; return by_char(f, n, fputc); }
static long p_fputc_unlocked(FILE *f, const char *b, size_t n) { (void)b; return by_char(f, n, call_fputc_unlocked); }
static long p_putc(FILE *f, const char *b, size_t n) { (void)b; return by_char(f, n, call_putc); }
static long p_putc_unlocked(FILE *f, const char *b, size_t n) { (void)b; return by_char(f, n, call_putc_unlocked); }
static long p__IO_putc(FILE *f, const char *b, size_t n) { (void)b; return by_char(f, n, _IO_putc); }

/* formatted: write n bytes in "%s" chunks of 1000 */
static int vf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}
static int vfchk(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = __vfprintf_chk(f, 1, fmt, ap);
	va_end(ap);
	return r;
}
#define BY_FORMAT(name, call)                                                  \
	static long p_##name(FILE *f, const char *b, size_t n)                 \
	{                                                                      \
		char chunk[1001];                                              \
		size_t done = 0;                                               \
		(void)b;                                                       \
		while (done < n) {                                             \
			size_t k = n - done < 1000 ? n - done : 1000;          \
			memset(chunk, 'f', k);                                 \
			chunk[k] = '\0';                                       \
			if (call < 0)                                          \
				return (long)done;                             \
			done += k;                                             \
		}                                                              \
		return (long)done;                                             \
	}
BY_FORMAT(fprintf, fprintf(f, "%s", chunk))
BY_FORMAT(__fprintf_chk, __fprintf_chk(f, 1, "%s", chunk))
BY_FORMAT(vfprintf, vf(f, "%s", chunk))
BY_FORMAT(__vfprintf_chk, vfchk(f, "%s", chunk))

/* Bytes entering a guarded stream are capped: 4096 taken, then EFBIG and
 * the stream's error flag; the file holds 4096 after fflush and fclose. */
static void stdio_case(const char *op, putter_fn put, const char *mode,
		       const char *logged_op)
{
	const char *path = P("cap/%s", op);
	FILE *f = fopen(path, mode);
	int before = log_lines();
	long n;

	assert_non_null(f);
	errno = 0;
	n = put(f, buf6k, 6000);
	assert_true(n <= CAP && n >= CAP - 1000);
	assert_int_equal(errno, EFBIG);
	assert_true(ferror(f));
	assert_true(log_lines() > before);
	assert_non_null(strstr(last_event(), Q(logged_op ? logged_op : op)));
	fflush(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(disk_size(path), CAP);
}

/* logged: the op the event names.  glibc's headers inline the _unlocked
 * character functions; their bytes are settled in __overflow. */
#define STDIO_TEST(sym, logged)                                                \
	static void hook_##sym(void **s)                                       \
	{                                                                      \
		(void)s;                                                       \
		stdio_case(#sym, p_##sym, "w", logged);                        \
	}
STDIO_TEST(fwrite, NULL)
STDIO_TEST(fwrite_unlocked, NULL)
STDIO_TEST(fputs, NULL)
STDIO_TEST(fputs_unlocked, NULL)
STDIO_TEST(fputc, NULL)
STDIO_TEST(fputc_unlocked, "__overflow")
STDIO_TEST(putc, NULL)
STDIO_TEST(putc_unlocked, "__overflow")
STDIO_TEST(_IO_putc, NULL)
STDIO_TEST(fprintf, NULL)
STDIO_TEST(__fprintf_chk, NULL)
STDIO_TEST(vfprintf, NULL)
STDIO_TEST(__vfprintf_chk, NULL)

/* The exported _unlocked names (called through the PLT, as other
 * languages' runtimes do) are hooked too. */
static void hook___overflow(void **s)
{
	int (*pu)(int, FILE *) = putc_unlocked;
	int (*fu)(int, FILE *) = fputc_unlocked;
	FILE *f = fopen(P("cap/plt-unlocked"), "w");
	long n = 0;

	(void)s;
	while (n < 6000 && (n % 2 ? pu : fu)('u', f) != EOF)
		n++;
	assert_int_equal(n, CAP);
	assert_int_equal(errno, EFBIG);
	fclose(f);
	assert_int_equal(disk_size(P("cap/plt-unlocked")), CAP);
}

/* fopen modes: "a" appends up to the cap, "w" of a fresh name in a full
 * root fails with EDQUOT, "r" is untouched. */
static void hook_fopen(void **s)
{
	FILE *f;

	(void)s;
	make_file(P("cap/fopen-a"), 4000);
	f = fopen(P("cap/fopen-a"), "a");
	assert_int_equal(fwrite(buf6k, 1, 200, f), 96);
	fclose(f);
	assert_int_equal(disk_size(P("cap/fopen-a")), CAP);
	f = fopen(P("files/f1"), "w");
	fclose(f);
	f = fopen(P("files/f2"), "w");
	fclose(f);
	errno = 0;
	assert_null(fopen(P("files/f3"), "w"));
	assert_int_equal(errno, EDQUOT);
	unlink(P("files/f1"));
	unlink(P("files/f2"));
	f = fopen(P("cap/fopen-a"), "r");
	assert_non_null(f);
	fclose(f);
}

static void hook_fopen64(void **s)
{
	FILE *f = fopen64(P("cap/fopen64b"), "wb");

	(void)s;
	assert_int_equal(fwrite(buf6k, 1, 6000, f), CAP);
	fclose(f);
	assert_int_equal(disk_size(P("cap/fopen64b")), CAP);
}

static void hook_fdopen(void **s)
{
	int fd = open(P("cap/fdopen"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	FILE *f = fdopen(fd, "w");

	(void)s;
	assert_int_equal(fwrite(buf6k, 1, 6000, f), CAP);
	assert_true(ferror(f));
	fclose(f);
	assert_int_equal(disk_size(P("cap/fdopen")), CAP);
}

static void freopen_case(FILE *(*fr)(const char *, const char *, FILE *),
			 const char *name)
{
	FILE *f = fopen(P("out/%s-first", name), "w");

	f = fr(P("cap/%s", name), "w", f);
	assert_non_null(f);
	assert_int_equal(fwrite(buf6k, 1, 6000, f), CAP);
	fclose(f);
	assert_int_equal(disk_size(P("cap/%s", name)), CAP);
}

static void hook_freopen(void **s)
{
	(void)s;
	freopen_case(freopen, "freopen");
}

static void hook_freopen64(void **s)
{
	(void)s;
	freopen_case(freopen64, "freopen64");
}

/* fflush and fclose move bytes already capped: a stream flushed at each
 * write still ends at the cap. */
static void flush_case(int (*fl)(FILE *), const char *name)
{
	FILE *f = fopen(P("cap/%s", name), "w");
	int i;

	for (i = 0; i < 6; i++) {
		fwrite(buf6k, 1, 1000, f);
		assert_int_equal(fl(f), 0);
		assert_true(disk_size(P("cap/%s", name)) <= CAP);
	}
	fclose(f);
	assert_int_equal(disk_size(P("cap/%s", name)), CAP);
}

static void hook_fflush(void **s)
{
	FILE *f;
	int i;

	(void)s;
	flush_case(fflush, "fflush");
	/* bytes that reached the buffer inline (putc_unlocked, no hook) past
	 * the cap: the flush writes what fits and fails as a write would */
	make_file(P("cap/inline"), 4000);
	f = fopen(P("cap/inline"), "a");
	for (i = 0; i < 200; i++)
		putc_unlocked('i', f);
	errno = 0;
	assert_int_equal(fflush(f), EOF);
	assert_int_equal(errno, EFBIG);
	assert_true(ferror(f));
	fclose(f);
	assert_int_equal(disk_size(P("cap/inline")), CAP);
}

static void hook_fflush_unlocked(void **s)
{
	(void)s;
	flush_case(fflush_unlocked, "fflush_unlocked");
}

/* fclose closes the fd inside libc: the number reused for a file outside
 * the roots must not inherit the cap. */
static void hook_fclose(void **s)
{
	FILE *f = fopen(P("cap/fclose"), "w");
	int fd = fileno(f), fd2;

	(void)s;
	fwrite(buf6k, 1, 10, f);
	assert_int_equal(fclose(f), 0);
	fd2 = open(P("out/after-fclose"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(fd2, fd);
	assert_int_equal(write(fd2, buf6k, 6000), 6000);
	close(fd2);
}

/* dprintf and kin write to an fd: formatted, then capped. */
static int vd(int fd, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}
static int vdchk(int fd, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = __vdprintf_chk(fd, 1, fmt, ap);
	va_end(ap);
	return r;
}

static void dprintf_case(const char *op, int which)
{
	int fd = open(P("cap/%s", op), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char chunk[1001];
	int i, r = 0, before = log_lines();

	memset(chunk, 'd', 1000);
	chunk[1000] = '\0';
	for (i = 0; i < 6 && r >= 0; i++) {
		errno = 0;
		r = which == 0   ? dprintf(fd, "%s", chunk)
		    : which == 1 ? vd(fd, "%s", chunk)
		    : which == 2 ? __dprintf_chk(fd, 1, "%s", chunk)
				 : vdchk(fd, "%s", chunk);
	}
	assert_int_equal(r, -1);
	assert_int_equal(errno, EFBIG);
	assert_true(log_lines() > before);
	close(fd);
	assert_int_equal(disk_size(P("cap/%s", op)), CAP);
}

static void hook_dprintf(void **s) { (void)s; dprintf_case("dprintf", 0); }
static void hook_vdprintf(void **s) { (void)s; dprintf_case("vdprintf", 1); }
static void hook___dprintf_chk(void **s) { (void)s; dprintf_case("__dprintf_chk", 2); }
static void hook___vdprintf_chk(void **s) { (void)s; dprintf_case("__vdprintf_chk", 3); }

/* stdout functions: a role whose stdout is a guarded file. */
static int vp(const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vprintf(fmt, ap);
	va_end(ap);
	return r;
}
static int vpchk(const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = __vprintf_chk(1, fmt, ap);
	va_end(ap);
	return r;
}

static int role_stdout(const char *fn)
{
	char chunk[1001];
	int i, r = 0;

	if (!freopen(P("cap/stdout-%s", fn), "w", stdout))
		return 10;
	memset(chunk, 'o', 999);
	chunk[999] = '\0';
	for (i = 0; i < 6000 && r >= 0; i++) {
		errno = 0;
		if (!strcmp(fn, "putchar"))
			r = putchar('p');
		else if (!strcmp(fn, "putchar_unlocked"))
			r = putchar_unlocked('p');
		else if (i < 6 && !strcmp(fn, "puts"))
			r = puts(chunk); /* 999 + newline */
		else if (i < 6 && !strcmp(fn, "printf"))
			r = printf("%s\n", chunk);
		else if (i < 6 && !strcmp(fn, "vprintf"))
			r = vp("%s\n", chunk);
		else if (i < 6 && !strcmp(fn, "__printf_chk"))
			r = __printf_chk(1, "%s\n", chunk);
		else if (i < 6 && !strcmp(fn, "__vprintf_chk"))
			r = vpchk("%s\n", chunk);
		else if (i >= 6 && strncmp(fn, "putchar", 7) != 0)
			break;
	}
	if (r >= 0 || errno != EFBIG)
		return 11;
	fclose(stdout);
	return 0;
}

#define STDOUT_TEST(sym)                                                       \
	static void hook_##sym(void **s)                                       \
	{                                                                      \
		(void)s;                                                       \
		assert_int_equal(run_role("stdout:" #sym, NULL), 0);           \
		assert_int_equal(disk_size(P("cap/stdout-" #sym)), CAP);       \
	}
STDOUT_TEST(puts)
STDOUT_TEST(putchar)
STDOUT_TEST(putchar_unlocked)
STDOUT_TEST(printf)
STDOUT_TEST(vprintf)
STDOUT_TEST(__printf_chk)
STDOUT_TEST(__vprintf_chk)

/* ==== size ============================================================== */

static void grow_case(const char *op, int (*grow)(int fd, const char *path,
						  off_t len))
{
	const char *path = P("cap/%s", op);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), before, r;

	before = log_lines();
	errno = 0;
	r = grow(fd, path, CAP + 1);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(disk_size(path), 0);
	EV(before, "op", Q(op), "rule", Q("max_file"), "verdict",
	   Q("denied"));
	assert_int_equal(grow(fd, path, CAP), 0); /* exactly the cap: fine */
	assert_int_equal(disk_size(path), CAP);
	close(fd);
}

static int g_ftruncate(int fd, const char *p, off_t l) { (void)p; return ftruncate(fd, l); }
static int g_ftruncate64(int fd, const char *p, off_t l) { (void)p; return ftruncate64(fd, l); }
static int g_truncate(int fd, const char *p, off_t l) { (void)fd; return truncate(p, l); }
static int g_truncate64(int fd, const char *p, off_t l) { (void)fd; return truncate64(p, l); }
static int g_fallocate(int fd, const char *p, off_t l) { (void)p; return fallocate(fd, 0, 0, l); }
static int g_fallocate64(int fd, const char *p, off_t l) { (void)p; return fallocate64(fd, 0, 0, l); }
/* posix_fallocate returns the error number */
static int g_posix_fallocate(int fd, const char *p, off_t l)
{
	int r = posix_fallocate(fd, 0, l);
	(void)p;
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}
static int g_posix_fallocate64(int fd, const char *p, off_t l)
{
	int r = posix_fallocate64(fd, 0, l);
	(void)p;
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

#define GROW_TEST(sym)                                                         \
	static void hook_##sym(void **s)                                       \
	{                                                                      \
		(void)s;                                                       \
		grow_case(#sym, g_##sym);                                      \
	}
GROW_TEST(ftruncate)
GROW_TEST(ftruncate64)
GROW_TEST(truncate)
GROW_TEST(truncate64)
GROW_TEST(fallocate)
GROW_TEST(fallocate64)
GROW_TEST(posix_fallocate)
GROW_TEST(posix_fallocate64)

/* fallocate with KEEP_SIZE does not grow the file: untouched. */
static void test_fallocate_keep_size(void **s)
{
	int fd = open(P("cap/keep"), O_RDWR | O_CREAT | O_TRUNC, 0644);

	(void)s;
	assert_int_equal(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20), 0);
	close(fd);
	assert_int_equal(disk_size(P("cap/keep")), 0);
}

/* ==== totals and names ===================================================== */

/* Bytes in a subtree stop at max_total (EDQUOT); a delete gives them back. */
static void hook_unlink(void **s)
{
	int a, b, before;

	(void)s;
	a = open(P("tot/a"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(a, buf6k, 6000), 6000);
	close(a);
	b = open(P("tot/b"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	before = log_lines();
	assert_int_equal(write(b, buf6k, 6000), 4000);
	EV(before, "rule", Q("max_total"), "allowed", "4000");
	errno = 0;
	assert_int_equal(write(b, buf6k, 10), -1);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(unlink(P("tot/a")), 0);
	assert_int_equal(write(b, buf6k, 6000), 6000);
	close(b);
	assert_int_equal(unlink(P("tot/b")), 0);
}

static void hook_unlinkat(void **s)
{
	int dfd = open(P("tot"), O_RDONLY | O_DIRECTORY), fd;

	(void)s;
	fd = openat(dfd, "c", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, buf6k, 6000), 6000);
	close(fd);
	assert_int_equal(unlinkat(dfd, "c", 0), 0);
	fd = openat(dfd, "d", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, buf6k, 6000), 6000); /* room again */
	close(fd);
	assert_int_equal(unlinkat(dfd, "d", 0), 0);
	close(dfd);
}

/* A move or link of a file that does not fit fails and leaves the source;
 * one that fits goes through. */
typedef int (*mover_fn)(const char *from, const char *to);

static void move_case(const char *op, mover_fn mv, bool keeps_source)
{
	const char *big = P("out/%s-big", op), *small = P("out/%s-small", op);
	int before;

	make_file(big, 6000);
	make_file(small, 100);
	before = log_lines();
	errno = 0;
	assert_int_equal(mv(big, P("cap/%s-big", op)), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(disk_size(big), 6000);
	assert_false(exists(P("cap/%s-big", op)));
	EV(before, "op", Q(op), "rule", Q("max_file"), "verdict", Q("denied"),
	   "errno", Q("EFBIG"));
	assert_int_equal(mv(small, P("cap/%s-small", op)), 0);
	assert_int_equal(disk_size(P("cap/%s-small", op)), 100);
	assert_int_equal(exists(small), keeps_source);
	/* the total of the destination: max_total 10000 */
	make_file(big, 6000);
	assert_int_equal(mv(big, P("tot/%s-1", op)), 0);
	make_file(big, 6000);
	errno = 0;
	assert_int_equal(mv(big, P("tot/%s-2", op)), -1);
	assert_int_equal(errno, EDQUOT);
	assert_int_equal(disk_size(big), 6000);
	unlink(P("tot/%s-1", op));
}

static int mv_rename(const char *a, const char *b) { return rename(a, b); }
static int mv_renameat(const char *a, const char *b) { return renameat(AT_FDCWD, a, AT_FDCWD, b); }
static int mv_renameat2(const char *a, const char *b) { return renameat2(AT_FDCWD, a, AT_FDCWD, b, 0); }
static int mv_link(const char *a, const char *b) { return link(a, b); }
static int mv_linkat(const char *a, const char *b) { return linkat(AT_FDCWD, a, AT_FDCWD, b, 0); }

static void hook_rename(void **s) { (void)s; move_case("rename", mv_rename, false); }
static void hook_renameat(void **s) { (void)s; move_case("renameat", mv_renameat, false); }
static void hook_renameat2(void **s) { (void)s; move_case("renameat2", mv_renameat2, false); }
static void hook_link(void **s) { (void)s; move_case("link", mv_link, true); }
static void hook_linkat(void **s) { (void)s; move_case("linkat", mv_linkat, true); }

/* nginx keeps the temp file's fd open across the rename: writes after the
 * move are capped by the new root. */
static void test_rename_open_fd(void **s)
{
	int fd = open(P("out/tmpbody"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)s;
	assert_int_equal(write(fd, buf6k, 1000), 1000);
	assert_int_equal(rename(P("out/tmpbody"), P("cap/body")), 0);
	assert_int_equal(write(fd, buf6k, 6000), CAP - 1000);
	close(fd);
	assert_int_equal(disk_size(P("cap/body")), CAP);
}

/* Moves inside a root pass untouched. */
static void test_rename_inside_root(void **s)
{
	int before;

	(void)s;
	make_file(P("tot/in1"), 6000);
	before = log_lines();
	assert_int_equal(rename(P("tot/in1"), P("tot/in2")), 0);
	assert_int_equal(log_lines(), before);
	unlink(P("tot/in2"));
}

/* max_session: the bytes one session holds in a subtree, across files;
 * another session has its own room; a delete gives room back. */
static void test_max_session(void **s)
{
	int a, b, c, before;

	(void)s;
	assert_int_equal(ug_session_enter("alice"), 0);
	a = open(P("sess/a1"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(a, buf6k, 3000), 3000);
	close(a);
	b = open(P("sess/a2"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	before = log_lines();
	assert_int_equal(write(b, buf6k, 3000), 2000);
	EV(before, "rule", Q("max_session"), "allowed", "2000");
	errno = 0;
	assert_int_equal(write(b, buf6k, 1), -1);
	assert_int_equal(errno, EDQUOT);
	close(b);
	assert_int_equal(ug_session_enter("bob"), 0);
	c = open(P("sess/b1"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(c, buf6k, 5000), 5000);
	close(c);
	assert_int_equal(ug_session_enter("alice"), 0);
	assert_int_equal(unlink(P("sess/a1")), 0);
	b = open(P("sess/a2"), O_WRONLY | O_APPEND);
	assert_int_equal(write(b, buf6k, 3000), 3000);
	close(b);
	ug_session_leave();
	assert_int_equal(disk_size(P("sess/a2")), 5000);
}

/* The cross-session kinds through names and sizes, in log mode (this
 * config's [session] cross is the default, log): a rename over another
 * session's file, a link over one, a truncate and an allocation through
 * an fd another session opened.  Each goes through and is logged. */
static void test_cross_session_kinds_logged(void **s)
{
	int fd, before;

	(void)s;
	assert_int_equal(ug_session_enter("tina"), 0);
	fd = open(P("tot/tina.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, "tina", 4), 4);
	assert_int_equal(ug_session_enter("sam"), 0);
	make_file(P("out/sam.txt"), 10);
	before = log_lines();
	assert_int_equal(rename(P("out/sam.txt"), P("tot/tina.txt")), 0);
	EV(before, "event", Q("cross_session"), "op", Q("rename"), "verdict",
	   Q("logged"));
	/* the file now is sam's bytes: sam links a name over tina's other */
	assert_int_equal(ug_session_enter("tina"), 0);
	close(open(P("tot/tina2.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644));
	assert_int_equal(ug_session_enter("sam"), 0);
	make_file(P("out/sam2.txt"), 10);
	before = log_lines();
	/* link never replaces: refused by the kernel, the attempt logged */
	assert_int_equal(link(P("out/sam2.txt"), P("tot/tina2.txt")), -1);
	assert_int_equal(errno, EEXIST);
	EV(before, "event", Q("cross_session"), "op", Q("link"));
	/* truncate and allocate through the fd tina opened */
	before = log_lines();
	assert_int_equal(ftruncate(fd, 100), 0);
	EV(before, "event", Q("cross_session"), "op", Q("ftruncate"));
	assert_int_equal(fallocate(fd, 0, 0, 200), 0);
	EV(before + 1, "event", Q("cross_session"), "op", Q("fallocate"));
	close(fd);
	ug_session_leave();
	unlink(P("tot/tina.txt"));
	unlink(P("tot/tina2.txt"));
}

/* ==== fd life ================================================================ */

/* A closed guarded fd's number, reused for a file outside the roots, is
 * not capped: close paths all forget. */
static void reuse_case(void (*closer)(int fd))
{
	int fd = open(P("cap/reuse"), O_WRONLY | O_CREAT | O_TRUNC, 0644), fd2;

	assert_int_equal(write(fd, buf6k, 10), 10);
	closer(fd);
	fd2 = open(P("out/reused"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(fd2, fd);
	assert_int_equal(write(fd2, buf6k, 6000), 6000);
	close(fd2);
}

static void c_close(int fd) { assert_int_equal(close(fd), 0); }
static void c_syscall(int fd) { assert_int_equal(syscall(SYS_close, fd), 0); }
static void c_close_range(int fd) { assert_int_equal(close_range(fd, fd, 0), 0); }
static void c_closefrom(int fd) { closefrom(fd); }

static void hook_close(void **s) { (void)s; reuse_case(c_close); }
static void hook_syscall(void **s)
{
	int fd;

	(void)s;
	reuse_case(c_syscall);
	/* and the write/open numbers through syscall() */
	fd = (int)syscall(SYS_openat, AT_FDCWD, P("cap/sys"),
			  O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(syscall(SYS_write, fd, buf6k, 6000), CAP);
	errno = 0;
	assert_int_equal(syscall(SYS_write, fd, buf6k, 1), -1);
	assert_int_equal(errno, EFBIG);
	close(fd);
	assert_int_equal(disk_size(P("cap/sys")), CAP);
}
static void hook_close_range(void **s) { (void)s; reuse_case(c_close_range); }
static void hook_closefrom(void **s) { (void)s; reuse_case(c_closefrom); }

/* dup'ed fds share the description: its position and its cap. */
static void dup_case(int (*d)(int fd))
{
	int fd = open(P("cap/dup"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int fd2 = d(fd);

	assert_true(fd2 >= 0 && fd2 != fd);
	assert_int_equal(write(fd, buf6k, 3000), 3000);
	assert_int_equal(write(fd2, buf6k, 3000), CAP - 3000);
	close(fd);
	errno = 0;
	assert_int_equal(write(fd2, buf6k, 1), -1);
	assert_int_equal(errno, EFBIG);
	close(fd2);
	assert_int_equal(disk_size(P("cap/dup")), CAP);
}

static int d_dup(int fd) { return dup(fd); }
static int d_dup2(int fd) { return dup2(fd, 200); }
static int d_dup3(int fd) { return dup3(fd, 201, O_CLOEXEC); }
static int d_fcntl(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 50); }
static int d_fcntl64(int fd) { return fcntl64(fd, F_DUPFD, 60); }

static void hook_dup(void **s) { (void)s; dup_case(d_dup); }
static void hook_dup2(void **s) { (void)s; dup_case(d_dup2); }
static void hook_dup3(void **s) { (void)s; dup_case(d_dup3); }
static void hook_fcntl(void **s) { (void)s; dup_case(d_fcntl); }
static void hook_fcntl64(void **s) { (void)s; dup_case(d_fcntl64); }

/* dd: open(out)=3; dup2(3,1); close(3); write(1) */
static void test_dd_pattern(void **s)
{
	int fd = open(P("cap/dd"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int save = dup(1);

	(void)s;
	assert_int_equal(dup2(fd, 1), 1);
	close(fd);
	assert_int_equal(write(1, buf6k, 6000), CAP);
	dup2(save, 1);
	close(save);
	assert_int_equal(disk_size(P("cap/dd")), CAP);
}

/* The log's fd survives the host: close, dup2 over it, close_range. */
static int find_log_fd(void)
{
	char link[64], target[PATH_MAX];
	int fd;

	for (fd = 0; fd < 4096; fd++) {
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, ug_log))
			return fd;
	}
	return -1;
}

static void violate(const char *name)
{
	int fd = open(P("cap/%s", name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	write(fd, buf6k, 6000);
	close(fd);
}

static void test_log_fd_survives(void **s)
{
	int lfd = find_log_fd(), before, nul;

	(void)s;
	assert_true(lfd >= 0);
	before = log_lines();
	assert_int_equal(close(lfd), 0);
	violate("lfd1");
	assert_int_equal(log_lines(), before + 1);
	nul = open("/dev/null", O_WRONLY);
	assert_int_equal(dup2(nul, lfd), lfd);
	close(nul);
	violate("lfd2");
	assert_int_equal(log_lines(), before + 2);
	close(lfd);
	close_range(3, ~0u, 0);
	violate("lfd3");
	assert_int_equal(log_lines(), before + 3);
}

/* fork: the child writes through the shared description, the parent then
 * continues from where the child left the offset. */
static void hook_fork(void **s)
{
	int fd = open(P("cap/fork"), O_WRONLY | O_CREAT | O_TRUNC, 0644), st;
	pid_t pid;

	(void)s;
	assert_int_equal(write(fd, buf6k, 1000), 1000);
	pid = fork();
	if (pid == 0)
		_exit(write(fd, buf6k, 2000) == 2000 ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(write(fd, buf6k, 6000), CAP - 3000);
	close(fd);
	assert_int_equal(disk_size(P("cap/fork")), CAP);
}

/* abort mode: the violation is logged, then SIGABRT. */
static int role_abort(void)
{
	int fd = open(P("cap/abort"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	write(fd, buf6k, 6000);
	return 0; /* not reached */
}

static void test_abort_mode(void **s)
{
	char cfg[512];

	(void)s;
	snprintf(cfg, sizeof(cfg),
		 "[guard]\nmode = abort\nlog = %s/abort.jsonl\n"
		 "[upload %s/cap]\nmax_file = 4096\n",
		 ug_dir, ug_dir);
	assert_int_equal(run_role("abort", cfg), 128 + SIGABRT);
	assert_int_equal(disk_size(P("cap/abort")), 0);
	{
		FILE *f = fopen(P("abort.jsonl"), "r");
		char line[65536];
		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		assert_non_null(strstr(line, "\"verdict\":\"aborted\""));
		fclose(f);
	}
}

/* ==== sockets: the session comes from the request head ==================== */

static int accepted_pair(int *client, bool four)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0), c, fd;

	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 1), 0);
	getsockname(ls, (struct sockaddr *)&a, &l);
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	fd = four ? accept4(ls, NULL, NULL, SOCK_CLOEXEC) : accept(ls, NULL, NULL);
	assert_true(fd >= 0);
	close(ls);
	*client = c;
	return fd;
}

static const char head[] = "GET /x HTTP/1.1\r\nHost: h\r\n"
			   "Cookie: a=1; sid=S3cret-42; b=2\r\n\r\n";

typedef ssize_t (*reader_fn)(int fd, char *b, size_t n);

static void session_case(reader_fn rd, bool four)
{
	int c, fd = accepted_pair(&c, four);
	char b[512];
	size_t got = 0;

	ug_session_leave();
	assert_int_equal(write(c, head, sizeof(head) - 1),
			 (ssize_t)sizeof(head) - 1);
	while (got < sizeof(head) - 1) {
		ssize_t r = rd(fd, b, sizeof(b));
		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_non_null(ug_session_current());
	assert_string_equal(ug_session_current(), "S3cret-42");
	close(fd);
	assert_null(ug_session_current()); /* the connection is gone */
	close(c);
}

static ssize_t r_read(int fd, char *b, size_t n) { return read(fd, b, n); }
static ssize_t r___read_chk(int fd, char *b, size_t n) { return __read_chk(fd, b, n, n); }
static ssize_t r_recv(int fd, char *b, size_t n) { return recv(fd, b, n, 0); }
static ssize_t r___recv_chk(int fd, char *b, size_t n) { return __recv_chk(fd, b, n, n, 0); }
static ssize_t r_recvfrom(int fd, char *b, size_t n) { return recvfrom(fd, b, n, 0, NULL, NULL); }
static ssize_t r___recvfrom_chk(int fd, char *b, size_t n) { return __recvfrom_chk(fd, b, n, n, 0, NULL, NULL); }
static ssize_t r_readv(int fd, char *b, size_t n)
{
	struct iovec v[2] = {{b, 7}, {b + 7, n - 7}};
	return readv(fd, v, 2);
}
static ssize_t r_recvmsg(int fd, char *b, size_t n)
{
	struct iovec v[2] = {{b, 5}, {b + 5, n - 5}};
	struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
	return recvmsg(fd, &m, 0);
}

#define SESSION_TEST(sym)                                                      \
	static void hook_##sym(void **s)                                       \
	{                                                                      \
		(void)s;                                                       \
		session_case(r_##sym, false);                                  \
	}
SESSION_TEST(__read_chk)
SESSION_TEST(recv)
SESSION_TEST(__recv_chk)
SESSION_TEST(recvfrom)
SESSION_TEST(__recvfrom_chk)
SESSION_TEST(readv)
SESSION_TEST(recvmsg)

static void hook_accept(void **s)
{
	(void)s;
	session_case(r_read, false);
}

static void hook_accept4(void **s)
{
	(void)s;
	session_case(r_read, true);
}

/* flock: the PHP session-file binding (needs [session] from = php) is in
 * test_session_api; here: flock passes through and keeps errno. */
static void hook_flock(void **s)
{
	int fd = open(P("out/lock"), O_RDWR | O_CREAT, 0644);

	(void)s;
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(flock(fd, LOCK_UN), 0);
	errno = 0;
	assert_int_equal(flock(-1, LOCK_EX), -1);
	assert_int_equal(errno, EBADF);
	close(fd);
}

/* ==== shared totals: four processes, one subtree ============================ */

static int role_writer(const char *id)
{
	int i, fd;
	char name[64];

	snprintf(name, sizeof(name), "shared/%s", id);
	fd = open(P("%s", name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (i = 0; i < 200; i++)
		if (write(fd, buf6k, 1000) < 0 && errno != EDQUOT)
			return 12;
	close(fd);
	return 0;
}

static void test_shared_total_four_processes(void **s)
{
	char cfg[512], role[32];
	pid_t pids[4];
	long long sum = 0;
	int i, st;

	(void)s;
	mkdir(P("shared"), 0755);
	snprintf(cfg, sizeof(cfg),
		 "[guard]\nmode = deny\nlog = %s/shared.jsonl\n"
		 "[upload %s/shared]\nmax_total = 300000\n",
		 ug_dir, ug_dir);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			snprintf(role, sizeof(role), "writer:w%d", i);
			setenv(UG_ENV_ROLE, role, 1);
			setenv("UPLOADGUARD_CONFIG_TEXT", cfg, 1);
			execl("/proc/self/exe", "role", (char *)NULL);
			_exit(127);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (i = 0; i < 4; i++)
		sum += disk_size(P("shared/w%d", i));
	assert_int_equal(sum, 300000); /* 800,000 asked for: exactly the cap */
}

/* ==== main ================================================================== */

static int run_role_main(const char *role)
{
	if (!strcmp(role, "tmpfile"))
		return role_tmpfile(false);
	if (!strcmp(role, "tmpfile64"))
		return role_tmpfile(true);
	if (!strcmp(role, "abort"))
		return role_abort();
	if (!strncmp(role, "stdout:", 7))
		return role_stdout(role + 7);
	if (!strncmp(role, "writer:", 7))
		return role_writer(role + 7);
	return 99;
}

int main(int argc, char **argv)
{
	const char *role;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hook_write),
		cmocka_unit_test(hook_pwrite),
		cmocka_unit_test(hook_pwrite64),
		cmocka_unit_test(hook_writev),
		cmocka_unit_test(hook_pwritev),
		cmocka_unit_test(hook_pwritev64),
		cmocka_unit_test(hook_pwritev2),
		cmocka_unit_test(hook_pwritev64v2),
		cmocka_unit_test(hook_sendfile),
		cmocka_unit_test(hook_sendfile64),
		cmocka_unit_test(hook_copy_file_range),
		cmocka_unit_test(hook_splice),
		cmocka_unit_test(test_copy_range_fits_no_event),
		cmocka_unit_test(test_sparse_past_cap),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(hook_read),
		cmocka_unit_test(hook_lseek),
		cmocka_unit_test(hook_lseek64),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_log_mode),
		cmocka_unit_test(test_unguarded_untouched),
		cmocka_unit_test(hook_open),
		cmocka_unit_test(hook_open64),
		cmocka_unit_test(hook_openat),
		cmocka_unit_test(hook_openat64),
		cmocka_unit_test(hook_creat),
		cmocka_unit_test(hook_creat64),
		cmocka_unit_test(hook___open_2),
		cmocka_unit_test(hook___open64_2),
		cmocka_unit_test(hook___openat_2),
		cmocka_unit_test(hook___openat64_2),
		cmocka_unit_test(hook_mkstemp),
		cmocka_unit_test(hook_mkstemp64),
		cmocka_unit_test(hook_mkostemp),
		cmocka_unit_test(hook_mkostemp64),
		cmocka_unit_test(hook_mkstemps),
		cmocka_unit_test(hook_mkstemps64),
		cmocka_unit_test(hook_mkostemps),
		cmocka_unit_test(hook_mkostemps64),
		cmocka_unit_test(test_o_tmpfile),
		cmocka_unit_test(hook_tmpfile),
		cmocka_unit_test(hook_tmpfile64),
		cmocka_unit_test(test_path_tricks),
		cmocka_unit_test(hook_fwrite),
		cmocka_unit_test(hook_fwrite_unlocked),
		cmocka_unit_test(hook_fputs),
		cmocka_unit_test(hook_fputs_unlocked),
		cmocka_unit_test(hook_fputc),
		cmocka_unit_test(hook_fputc_unlocked),
		cmocka_unit_test(hook_putc),
		cmocka_unit_test(hook_putc_unlocked),
		cmocka_unit_test(hook__IO_putc),
		cmocka_unit_test(hook_fprintf),
		cmocka_unit_test(hook___fprintf_chk),
		cmocka_unit_test(hook_vfprintf),
		cmocka_unit_test(hook___vfprintf_chk),
		cmocka_unit_test(hook_fopen),
		cmocka_unit_test(hook_fopen64),
		cmocka_unit_test(hook_fdopen),
		cmocka_unit_test(hook_freopen),
		cmocka_unit_test(hook_freopen64),
		cmocka_unit_test(hook___overflow),
		cmocka_unit_test(hook_fflush),
		cmocka_unit_test(hook_fflush_unlocked),
		cmocka_unit_test(hook_fclose),
		cmocka_unit_test(hook_dprintf),
		cmocka_unit_test(hook_vdprintf),
		cmocka_unit_test(hook___dprintf_chk),
		cmocka_unit_test(hook___vdprintf_chk),
		cmocka_unit_test(hook_puts),
		cmocka_unit_test(hook_putchar),
		cmocka_unit_test(hook_putchar_unlocked),
		cmocka_unit_test(hook_printf),
		cmocka_unit_test(hook_vprintf),
		cmocka_unit_test(hook___printf_chk),
		cmocka_unit_test(hook___vprintf_chk),
		cmocka_unit_test(hook_ftruncate),
		cmocka_unit_test(hook_ftruncate64),
		cmocka_unit_test(hook_truncate),
		cmocka_unit_test(hook_truncate64),
		cmocka_unit_test(hook_fallocate),
		cmocka_unit_test(hook_fallocate64),
		cmocka_unit_test(hook_posix_fallocate),
		cmocka_unit_test(hook_posix_fallocate64),
		cmocka_unit_test(test_fallocate_keep_size),
		cmocka_unit_test(hook_unlink),
		cmocka_unit_test(hook_unlinkat),
		cmocka_unit_test(hook_rename),
		cmocka_unit_test(hook_renameat),
		cmocka_unit_test(hook_renameat2),
		cmocka_unit_test(hook_link),
		cmocka_unit_test(hook_linkat),
		cmocka_unit_test(test_rename_open_fd),
		cmocka_unit_test(test_rename_inside_root),
		cmocka_unit_test(test_max_session),
		cmocka_unit_test(test_cross_session_kinds_logged),
		cmocka_unit_test(hook_close),
		cmocka_unit_test(hook_syscall),
		cmocka_unit_test(hook_close_range),
		cmocka_unit_test(hook_closefrom),
		cmocka_unit_test(hook_dup),
		cmocka_unit_test(hook_dup2),
		cmocka_unit_test(hook_dup3),
		cmocka_unit_test(hook_fcntl),
		cmocka_unit_test(hook_fcntl64),
		cmocka_unit_test(test_dd_pattern),
		cmocka_unit_test(hook_fork),
		cmocka_unit_test(test_abort_mode),
		cmocka_unit_test(hook_accept),
		cmocka_unit_test(hook_accept4),
		cmocka_unit_test(hook___read_chk),
		cmocka_unit_test(hook_recv),
		cmocka_unit_test(hook___recv_chk),
		cmocka_unit_test(hook_recvfrom),
		cmocka_unit_test(hook___recvfrom_chk),
		cmocka_unit_test(hook_readv),
		cmocka_unit_test(hook_recvmsg),
		cmocka_unit_test(hook_flock),
		cmocka_unit_test(test_shared_total_four_processes),
		/* last: it closes every fd above 2 */
		cmocka_unit_test(test_log_fd_survives),
	};
	int rc;

	memset(buf6k, 'a', sizeof(buf6k));
	ug_reexec(argc, argv, config, dirs);
	role = getenv(UG_ENV_ROLE);
	if (role)
		return run_role_main(role);
	rc = cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
	if (rc == 0) { /* keep the scratch dir of a failed run */
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ug_dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
