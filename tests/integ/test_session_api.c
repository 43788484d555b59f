/*
 * Sessions through the real preload: the public API (include/uploadguard.h),
 * ownership by the creating thread, cross-session writes by a second thread
 * (own files, a shared fd), pooled threads with no false alarm, the env and
 * PHP sess_ flock bindings, and the header's no-op macros without the shim.
 *
 * Not preloaded yet, the program re-execs itself with LD_PRELOAD=$UG_LIB and
 * UPLOADGUARD_CONFIG_TEXT (cross = deny); modes that need another config or
 * environment run as child processes of the preloaded test ("--child NAME").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "uploadguard.h"

#define SID_A "alice-SECRET-a1b2c3"
#define SID_B "bob-SECRET-d4e5f6"
#define SID_X "pool-SECRET-xxxx"
#define SID_Y "pool-SECRET-yyyy"
#define SID_ENV "env-SECRET-9876"
#define OWNER_XATTR "user.uploadguard.owner"

static char dir[PATH_MAX];  /* temp dir: root/, sessions/, events.jsonl */
static char root[PATH_MAX];
static char logpath[PATH_MAX];

static const char *raw_ids[] = {SID_A, SID_B, SID_X, SID_Y, SID_ENV,
				"abc", "def"};

/* ---- helpers ----------------------------------------------------------- */

static void pathf(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
}

static void put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void assert_file_is(const char *path, const char *text)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

static size_t log_mark(void)
{
	struct stat st;

	return stat(logpath, &st) == 0 ? (size_t)st.st_size : 0;
}

/* The log lines written since `mark` (caller frees). */
static char *log_since(size_t mark)
{
	char *all = slurp(logpath), *tail;

	tail = strdup(strlen(all) >= mark ? all + mark : "");
	free(all);
	return tail;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

/* The string value of "key" in the first line of `text` holding `event`. */
static bool field_of(const char *text, const char *event, const char *key,
		     char *out, size_t outsz)
{
	const char *line = strstr(text, event), *eol, *p;
	char pat[64];
	size_t n;

	if (!line)
		return false;
	while (line > text && line[-1] != '\n')
		line--;
	eol = strchr(line, '\n');
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(line, pat);
	if (!p || (eol && p > eol))
		return false;
	p += strlen(pat);
	n = strcspn(p, "\"");
	if (n >= outsz)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* True when the calling thread is bound to `want` (NULL: unbound). */
static bool cur_is(const char *want)
{
	const char *cur = ug_session_current();

	if (!cur || !want)
		return cur == want;
	return strcmp(cur, want) == 0;
}

static bool is_digest(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

static void assert_no_raw_ids(void)
{
	char *all = slurp(logpath);
	size_t i;

	for (i = 0; i < sizeof(raw_ids) / sizeof(raw_ids[0]); i++) {
		if (strlen(raw_ids[i]) > 3 && strstr(all, raw_ids[i]))
			fail_msg("raw session id %s in the log", raw_ids[i]);
	}
	/* short ids: only as a whole JSON string */
	assert_null(strstr(all, "\"abc\""));
	assert_null(strstr(all, "\"def\""));
	free(all);
}

static void xattr_owner(const char *path, char out[17])
{
	ssize_t n = getxattr(path, OWNER_XATTR, out, 16);

	out[n == 16 ? 16 : 0] = '\0';
}

/* Runs fn(arg) on a new thread and waits for it. */
static void on_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* ---- two sessions, one file -------------------------------------------- */

struct job {
	const char *sid;
	char path[PATH_MAX];
	int fd;
	int rc, err; /* what the last call returned */
};

static void *create_as(void *p)
{
	struct job *j = p;

	ug_session_enter(j->sid);
	put_file(j->path, "owned by A\n");
	ug_session_leave();
	return NULL;
}

static void *open_write_as(void *p)
{
	struct job *j = p;
	int fd;

	ug_session_enter(j->sid);
	errno = 0;
	fd = open(j->path, O_WRONLY);
	j->rc = fd;
	j->err = errno;
	if (fd >= 0)
		close(fd);
	ug_session_leave();
	return NULL;
}

static void *write_fd_as(void *p)
{
	struct job *j = p;

	ug_session_enter(j->sid);
	errno = 0;
	j->rc = (int)write(j->fd, "B was here\n", 11);
	j->err = errno;
	ug_session_leave();
	return NULL;
}

static void *trunc_open_as(void *p)
{
	struct job *j = p;
	int fd;

	ug_session_enter(j->sid);
	errno = 0;
	fd = open(j->path, O_WRONLY | O_TRUNC);
	j->rc = fd;
	j->err = errno;
	if (fd >= 0)
		close(fd);
	ug_session_leave();
	return NULL;
}

static void *unlink_as(void *p)
{
	struct job *j = p;

	ug_session_enter(j->sid);
	errno = 0;
	j->rc = unlink(j->path);
	j->err = errno;
	ug_session_leave();
	return NULL;
}

/* B moves (or links) a file of its own over j->path. */
static void *name_over_as(void *p, bool link_it)
{
	struct job *j = p;
	char mine[PATH_MAX + 8];
	int fd;

	ug_session_enter(j->sid);
	snprintf(mine, sizeof(mine), "%s.b", j->path);
	fd = open(mine, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		(void)!write(fd, "B's bytes\n", 10);
		close(fd);
	}
	errno = 0;
	j->rc = link_it ? linkat(AT_FDCWD, mine, AT_FDCWD, j->path, 0)
			: rename(mine, j->path);
	j->err = errno;
	unlink(mine);
	ug_session_leave();
	return NULL;
}

static void *rename_over_as(void *p) { return name_over_as(p, false); }
static void *link_over_as(void *p) { return name_over_as(p, true); }

static void test_session_cross_write_denied(void **state)
{
	struct job a = {.sid = SID_A}, b = {.sid = SID_B};
	char owner[17], got[64], *log;
	size_t mark = log_mark();
	struct stat st;

	pathf(a.path, "%s/a.txt", root);
	on_thread(create_as, &a);
	xattr_owner(a.path, owner);
	assert_true(is_digest(owner));

	/* B opens A's file for writing: refused, file as it was */
	memcpy(b.path, a.path, sizeof(a.path));
	on_thread(open_write_as, &b);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EACCES);
	/* B truncates it at open: refused before any byte is lost */
	on_thread(trunc_open_as, &b);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EACCES);
	/* B deletes it: refused */
	on_thread(unlink_as, &b);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EACCES);
	/* B renames its own file over A's: refused, A's file as it was */
	on_thread(rename_over_as, &b);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EACCES);
	/* a link over it (the kernel would say EEXIST): refused first */
	on_thread(link_over_as, &b);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EACCES);
	assert_int_equal(stat(a.path, &st), 0);
	assert_int_equal(st.st_size, 11);
	assert_file_is(a.path, "owned by A\n");

	/* A itself may rewrite it: no event */
	a.rc = 0;
	on_thread(trunc_open_as, &a);
	assert_true(a.rc >= 0);

	log = log_since(mark);
	assert_int_equal(count(log, "\"event\":\"cross_session\""), 5);
	assert_true(field_of(log, "cross_session", "session", got, sizeof(got)));
	assert_true(is_digest(got));
	assert_string_not_equal(got, owner);
	assert_true(field_of(log, "cross_session", "owner", got, sizeof(got)));
	assert_string_equal(got, owner);
	assert_true(field_of(log, "cross_session", "binding", got, sizeof(got)));
	assert_string_equal(got, "api");
	assert_true(field_of(log, "cross_session", "verdict", got, sizeof(got)));
	assert_string_equal(got, "denied");
	free(log);
	assert_no_raw_ids();
}

/* A opens (creates) the file and keeps the fd; B writes through it. */
static void *open_keep_as(void *p)
{
	struct job *j = p;

	ug_session_enter(j->sid);
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(j->fd >= 0);
	assert_int_equal(write(j->fd, "A1\n", 3), 3);
	ug_session_leave();
	return NULL;
}

static void test_session_shared_fd_denied(void **state)
{
	struct job a = {.sid = SID_A}, b = {.sid = SID_B};
	size_t mark = log_mark();
	char got[64], *log;
	int fd;

	pathf(a.path, "%s/shared.txt", root);
	on_thread(open_keep_as, &a);
	b.fd = a.fd;
	on_thread(write_fd_as, &b);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EACCES);
	assert_file_is(a.path, "A1\n");

	/* An fd an unbound thread opened on A's file: the owner still counts */
	fd = open(a.path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	b.fd = fd;
	on_thread(write_fd_as, &b);
	assert_int_equal(b.rc, -1);
	assert_int_equal(b.err, EACCES);
	/* and an unbound thread writes freely: no event */
	assert_int_equal(write(fd, "U\n", 2), 2);
	close(fd);
	close(a.fd);
	assert_file_is(a.path, "A1\nU\n");

	log = log_since(mark);
	assert_int_equal(count(log, "\"event\":\"cross_session\""), 2);
	assert_true(field_of(log, "cross_session", "op", got, sizeof(got)));
	assert_string_equal(got, "write");
	free(log);
	assert_no_raw_ids();
}

/* ---- pooled threads: no false alarm ------------------------------------- */

#define POOL_THREADS 4
#define POOL_ROUNDS 50

static void *pool_worker(void *p)
{
	long w = (long)p;
	char path[PATH_MAX], buf[64];
	int i, fd;

	for (i = 0; i < POOL_ROUNDS; i++) {
		const char *sid = i % 2 ? SID_Y : SID_X;

		assert_int_equal(ug_session_enter(sid), 0);
		assert_string_equal(ug_session_current(), sid);
		/* a new file of this session, then an older one rewritten */
		pathf(path, "%s/pool-%c-%ld-%d", root, sid[12], w, i);
		snprintf(buf, sizeof(buf), "%s round %d\n", sid[12] == 'x' ?
			 "X" : "Y", i);
		put_file(path, buf);
		if (i >= 2) {
			pathf(path, "%s/pool-%c-%ld-%d", root, sid[12], w,
			      i - 2);
			fd = open(path, O_WRONLY | O_APPEND);
			assert_true(fd >= 0);
			assert_int_equal(write(fd, "more\n", 5), 5);
			assert_int_equal(ftruncate(fd, 3), 0);
			close(fd);
		}
		ug_session_leave();
		assert_null(ug_session_current());
	}
	return NULL;
}

static void test_session_pool_no_false_alarm(void **state)
{
	pthread_t t[POOL_THREADS];
	size_t mark = log_mark();
	long i;
	char *log;

	for (i = 0; i < POOL_THREADS; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, pool_worker, (void *)i), 0);
	for (i = 0; i < POOL_THREADS; i++)
		pthread_join(t[i], NULL);
	log = log_since(mark);
	assert_int_equal(count(log, "\"event\""), 0);
	free(log);
}

/* ---- the API itself ------------------------------------------------------ */

static void *current_elsewhere(void *p)
{
	*(const char **)p = ug_session_current();
	return NULL;
}

static void test_session_api_current(void **state)
{
	char longid[300];
	const char *other = "unset";

	assert_null(ug_session_current());
	assert_int_equal(ug_session_enter("abc"), 0);
	assert_string_equal(ug_session_current(), "abc");
	on_thread(current_elsewhere, &other); /* thread-local */
	assert_null(other);
	assert_int_equal(ug_session_enter("def"), 0); /* rebinds */
	assert_string_equal(ug_session_current(), "def");
	ug_session_leave();
	assert_null(ug_session_current());
	ug_session_leave(); /* twice: harmless */

	errno = 0;
	assert_int_equal(ug_session_enter(NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ug_session_enter(""), -1);
	memset(longid, 'k', sizeof(longid));
	longid[256] = '\0';
	assert_int_equal(ug_session_enter(longid), -1);
	assert_int_equal(errno, EINVAL);
	longid[255] = '\0';
	assert_int_equal(ug_session_enter(longid), 0);
	assert_string_equal(ug_session_current(), longid);
	ug_session_leave();
	assert_null(ug_session_current());
}

/* ---- PHP sess_ files -------------------------------------------------------- */

static int php_open_lock(const char *id)
{
	char path[PATH_MAX];
	int fd;

	pathf(path, "%s/sessions/sess_%s", dir, id);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	return fd;
}

static void *php_request_def(void *p)
{
	int fd = php_open_lock("def");

	assert_string_equal(ug_session_current(), "def");
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "user|s:3:\"def\";", 15, 0), 15);
	close(fd); /* drops the lock and the binding */
	assert_null(ug_session_current());
	return NULL;
}

static void *php_request_abc_buggy(void *p)
{
	int *res = p;
	char path[PATH_MAX];
	int fd = php_open_lock("abc"), fd2;

	assert_string_equal(ug_session_current(), "abc");
	pathf(path, "%s/sessions/sess_def", dir);
	errno = 0;
	fd2 = open(path, O_RDWR);
	res[0] = fd2;
	res[1] = errno;
	if (fd2 >= 0)
		close(fd2);
	assert_int_equal(flock(fd, LOCK_UN), 0);
	assert_null(ug_session_current());
	close(fd);
	return NULL;
}

static int run_child(const char *name, const char **env);

/* Runs in a child whose config guards sessions/ with owner = path:sess_{session}
 * (PHP creates sess_<id> before it locks it, so no thread owns it then). */
static int child_php(void)
{
	char path[PATH_MAX], buf[64];
	int res[2], fd;
	ssize_t n;

	on_thread(php_request_def, NULL);
	on_thread(php_request_abc_buggy, res);
	if (res[0] != -1 || res[1] != EACCES)
		return 40;
	pathf(path, "%s/sessions/sess_def", dir);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (n != 15 || memcmp(buf, "user|s:3:\"def\";", 15))
		return 41;
	close(fd);
	return 0;
}

static char *config_text(const char *cross, bool php_root);

static void test_session_php_flock_binding(void **state)
{
	const char *env[] = {NULL, NULL};
	char *cfg = config_text("deny", true), *var, got[64], *log;
	size_t mark = log_mark();
	int st;

	assert_true(asprintf(&var, "UPLOADGUARD_CONFIG_TEXT=%s", cfg) > 0);
	env[0] = var;
	st = run_child("php", env);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	log = log_since(mark);
	assert_int_equal(count(log, "\"event\":\"cross_session\""), 1);
	assert_true(field_of(log, "cross_session", "binding", got, sizeof(got)));
	assert_string_equal(got, "php");
	assert_true(field_of(log, "cross_session", "op", got, sizeof(got)));
	assert_string_equal(got, "open");
	assert_true(field_of(log, "cross_session", "session", got, sizeof(got)));
	assert_true(is_digest(got));
	free(log);
	free(var);
	free(cfg);
	assert_no_raw_ids();
}

/* ---- child processes ----------------------------------------------------------- */

/* Runs this program again as `--child name` with extra environment
 * (NAME=VALUE strings, NULL-terminated; "-NAME" removes NAME).  Returns the
 * wait status. */
static int run_child(const char *name, const char **env)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = {"test_session_api", "--child", (char *)name,
				NULL};
		struct rlimit no_core = {0, 0};

		setrlimit(RLIMIT_CORE, &no_core);
		for (; env && *env; env++) {
			if (**env == '-')
				unsetenv(*env + 1);
			else
				putenv((char *)*env);
		}
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

/* The config: cross = `cross`; php_root adds a root for PHP's session files
 * whose owner comes from the name (no other root has an owner pattern, so
 * ownership by the creating thread is what the other tests see). */
static char *config_text(const char *cross, bool php_root)
{
	char *t;

	if (asprintf(&t,
		     "[guard]\nmode = deny\nlog = %s\n"
		     "[session]\nfrom = api, php, env\ncross = %s\n"
		     "salt = test-salt\n"
		     "[upload %s]\nmax_file = 1M\n"
		     "%s%s%s",
		     logpath, cross, root, php_root ? "[upload " : "",
		     php_root ? dir : "",
		     php_root ? "/sessions]\nowner = path:sess_{session}\n"
			      : "") < 0)
		abort();
	return t;
}

static void test_session_env_binding(void **state)
{
	const char *env[] = {"UPLOADGUARD_SESSION=" SID_ENV, NULL};
	size_t mark = log_mark();
	char path[PATH_MAX], owner[17], got[64], *log;
	int st = run_child("env", env);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	pathf(path, "%s/env.txt", root);
	assert_file_is(path, "env\n");
	xattr_owner(path, owner);
	assert_true(is_digest(owner));
	log = log_since(mark);
	assert_int_equal(count(log, "\"event\":\"cross_session\""), 1);
	assert_true(field_of(log, "cross_session", "owner", got, sizeof(got)));
	assert_string_equal(got, owner);
	free(log);
	assert_no_raw_ids();
}

static int child_env(void)
{
	char path[PATH_MAX];
	int fd;

	if (!cur_is(SID_ENV))
		return 10;
	pathf(path, "%s/env.txt", root);
	put_file(path, "env\n"); /* owned by the env session */
	ug_session_enter(SID_B);
	if (!cur_is(SID_B))
		return 11;
	fd = open(path, O_WRONLY);
	if (fd >= 0 || errno != EACCES)
		return 12;
	ug_session_leave(); /* back to the process's binding */
	if (!cur_is(SID_ENV))
		return 13;
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return 14;
	close(fd);
	return 0;
}

/* log and abort mode: B writes A's file through an fd B opened before A owned
 * it is not possible, so B opens it for writing. */
static int child_cross(bool abort_mode)
{
	struct job a = {.sid = SID_A}, b = {.sid = SID_B};
	const char *name = abort_mode ? "abort.txt" : "logmode.txt";

	pathf(a.path, "%s/%s", root, name);
	on_thread(create_as, &a);
	memcpy(b.path, a.path, sizeof(a.path));
	ug_session_enter(SID_B);
	b.fd = open(b.path, O_WRONLY | O_APPEND); /* aborts in abort mode */
	if (b.fd < 0)
		return 20;
	if (write(b.fd, "B was here\n", 11) != 11)
		return 21;
	close(b.fd);
	return 0;
}

static void test_session_cross_log_mode(void **state)
{
	const char *env[] = {NULL, NULL};
	char *cfg = config_text("log", false), *var, path[PATH_MAX], got[64], *log;
	size_t mark = log_mark();
	int st;

	assert_true(asprintf(&var, "UPLOADGUARD_CONFIG_TEXT=%s", cfg) > 0);
	env[0] = var;
	st = run_child("log", env);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	pathf(path, "%s/logmode.txt", root);
	assert_file_is(path, "owned by A\nB was here\n"); /* changed */
	log = log_since(mark);
	assert_true(count(log, "\"event\":\"cross_session\"") >= 2);
	assert_true(field_of(log, "cross_session", "verdict", got, sizeof(got)));
	assert_string_equal(got, "logged");
	free(log);
	free(var);
	free(cfg);
}

static void test_session_cross_abort_mode(void **state)
{
	const char *env[] = {NULL, NULL};
	char *cfg = config_text("abort", false), *var, path[PATH_MAX], got[64], *log;
	size_t mark = log_mark();
	int st;

	assert_true(asprintf(&var, "UPLOADGUARD_CONFIG_TEXT=%s", cfg) > 0);
	env[0] = var;
	st = run_child("abort", env);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	pathf(path, "%s/abort.txt", root);
	assert_file_is(path, "owned by A\n"); /* unchanged */
	log = log_since(mark);
	assert_int_equal(count(log, "\"event\":\"cross_session\""), 1);
	assert_true(field_of(log, "cross_session", "verdict", got, sizeof(got)));
	assert_string_equal(got, "aborted");
	free(log);
	free(var);
	free(cfg);
}

/* ---- without the shim ------------------------------------------------------------ */

static int child_no_shim(void)
{
	/* The weak symbols are unresolved: the header's macros make every
	 * call a no-op. */
	if (&ug_session_enter != NULL)
		return 30;
	if (ug_session_enter("abc") != 0)
		return 31;
	if (ug_session_current() != NULL)
		return 32;
	ug_session_leave();
	return 0;
}

static void test_session_api_without_shim(void **state)
{
	const char *env[] = {"-LD_PRELOAD", "-UPLOADGUARD_CONFIG_TEXT", NULL};
	int st = run_child("noshim", env);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- main ---------------------------------------------------------------------------- */

/* Not preloaded: make the temp dir and re-exec under the shim. */
static int reexec_preloaded(char **argv)
{
	const char *lib = getenv("UG_LIB");
	char libbuf[PATH_MAX + 32], self[PATH_MAX], *cfg;
	ssize_t n;

	if (!lib) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[n > 0 ? n : 0] = '\0';
		*strrchr(self, '/') = '\0'; /* B/tests/integ */
		snprintf(libbuf, sizeof(libbuf), "%s/../../libuploadguard.so",
			 self);
		lib = libbuf;
	}
	if (access(lib, R_OK) != 0) {
		printf("SKIP: no shim at %s (set UG_LIB)\n", lib);
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/ug-session-api.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	pathf(root, "%s/root", dir);
	pathf(logpath, "%s/events.jsonl", dir);
	pathf(self, "%s/sessions", dir);
	if (mkdir(root, 0755) || mkdir(self, 0755))
		return 1;
	cfg = config_text("deny", false);
	setenv("UPLOADGUARD_CONFIG_TEXT", cfg, 1);
	setenv("UG_SESSION_API_DIR", dir, 1);
	setenv("LD_PRELOAD", lib, 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	return 1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_api_current),
		cmocka_unit_test(test_session_cross_write_denied),
		cmocka_unit_test(test_session_shared_fd_denied),
		cmocka_unit_test(test_session_pool_no_false_alarm),
		cmocka_unit_test(test_session_php_flock_binding),
		cmocka_unit_test(test_session_env_binding),
		cmocka_unit_test(test_session_cross_log_mode),
		cmocka_unit_test(test_session_cross_abort_mode),
		cmocka_unit_test(test_session_api_without_shim),
	};
	const char *d = getenv("UG_SESSION_API_DIR");
	char cmd[PATH_MAX + 16];
	int rc;

	if (argc == 3 && !strcmp(argv[1], "--child")) {
		snprintf(dir, sizeof(dir), "%s", d ? d : "/nonexistent");
		pathf(root, "%s/root", dir);
		if (!strcmp(argv[2], "noshim"))
			return child_no_shim();
		if (!strcmp(argv[2], "env"))
			return child_env();
		if (!strcmp(argv[2], "php"))
			return child_php();
		return child_cross(!strcmp(argv[2], "abort"));
	}
	if (!d || &ug_session_enter == NULL)
		return reexec_preloaded(argv);
	snprintf(dir, sizeof(dir), "%s", d);
	pathf(root, "%s/root", dir);
	pathf(logpath, "%s/events.jsonl", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0 && !getenv("UG_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	} else {
		fprintf(stderr, "test files kept in %s\n", dir);
	}
	return rc;
}
