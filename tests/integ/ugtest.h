/*
 * Helpers for integration tests that run under the preload: re-exec with
 * the shim and a config, per-test scratch files, sizes on disk, and the
 * forensic log's lines.  Test programs only: stdio and asserts are fine.
 */
#ifndef UG_UGTEST_H
#define UG_UGTEST_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define UG_ENV_DIR "UG_TEST_DIR"
#define UG_ENV_ROLE "UG_TEST_ROLE"

static char ug_dir[PATH_MAX];   /* scratch directory of this run */
static char ug_log[PATH_MAX];   /* the shim's log */

/* Formats a path below the scratch dir into one of a few rotating buffers. */
static __attribute__((unused)) const char *P(const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char rel[PATH_MAX];
	va_list ap;
	char *b = bufs[next++ % 8];

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(b, PATH_MAX, "%s/%s", ug_dir, rel);
	return b;
}

static __attribute__((unused)) long long disk_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static __attribute__((unused)) bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Writes n bytes of 'x' to a new file (outside the guard's concern when
 * the path is not in a root). */
static __attribute__((unused)) void make_file(const char *path, size_t n)
{
	char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t left = n;

	assert_true(fd >= 0);
	memset(buf, 'x', sizeof(buf));
	while (left) {
		size_t k = left < sizeof(buf) ? left : sizeof(buf);
		assert_int_equal(write(fd, buf, k), (ssize_t)k);
		left -= k;
	}
	close(fd);
}

/* Number of lines in the log. */
static __attribute__((unused)) int log_lines(void)
{
	FILE *f = fopen(ug_log, "r");
	int n = 0, c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

/* The last line of the log (static buffer), or "". */
static __attribute__((unused)) const char *last_event(void)
{
	static char line[65536];
	char buf[65536];
	FILE *f = fopen(ug_log, "r");

	line[0] = '\0';
	if (!f)
		return line;
	while (fgets(buf, sizeof(buf), f))
		memcpy(line, buf, strlen(buf) + 1);
	fclose(f);
	return line;
}

/* Asserts that the log grew by one line since `before` and that the line
 * has "key":value for each pair (value given as JSON text). */
static __attribute__((unused)) void expect_event(int before, ...)
{
	const char *line;
	const char *k, *v;
	char want[512];
	va_list ap;

	assert_int_equal(log_lines(), before + 1);
	line = last_event();
	va_start(ap, before);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		snprintf(want, sizeof(want), "\"%s\":%s", k, v);
		if (!strstr(line, want)) {
			print_error("log line lacks %s:\n%s\n", want, line);
			va_end(ap);
			fail();
		}
	}
	va_end(ap);
}

#define EV(before, ...) expect_event(before, __VA_ARGS__, (const char *)NULL)

/* "\"s\"": a JSON string for EV. */
static __attribute__((unused)) const char *Q(const char *s)
{
	static char bufs[8][256];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 256, "\"%s\"", s);
	return b;
}

/* Re-executes this program under the preload with the given config text
 * (UG_LIB names the shim).  Returns only in the preloaded process. */
static __attribute__((unused)) void ug_reexec(int argc, char **argv, const char *config,
		      const char *const *dirs)
{
	const char *lib = getenv("UG_LIB");
	char *dir;

	(void)argc;
	if (getenv(UG_ENV_DIR)) {
		snprintf(ug_dir, sizeof(ug_dir), "%s", getenv(UG_ENV_DIR));
		snprintf(ug_log, sizeof(ug_log), "%s/events.jsonl", ug_dir);
		return;
	}
	if (!lib || access(lib, R_OK) != 0) {
		printf("SKIP: UG_LIB does not name the shim (run through "
		       "make test)\n");
		exit(77);
	}
	dir = strdup("/tmp/ugtest.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	setenv(UG_ENV_DIR, dir, 1);
	for (; dirs && *dirs; dirs++) {
		char d[PATH_MAX];
		snprintf(d, sizeof(d), "%s/%s", dir, *dirs);
		if (mkdir(d, 0755) < 0) {
			perror(d);
			exit(1);
		}
	}
	{
		/* the config names paths below the scratch dir: %1$s */
		char *text = NULL;
		size_t len = strlen(config) + 64 * strlen(dir);
		const char *c;
		size_t o = 0;

		text = malloc(len);
		for (c = config; *c; c++) {
			if (c[0] == '@' && c[1] == '@') {
				o += (size_t)sprintf(text + o, "%s", dir);
				c++;
			} else {
				text[o++] = *c;
			}
		}
		text[o] = '\0';
		setenv("UPLOADGUARD_CONFIG_TEXT", text, 1);
	}
	setenv("LD_PRELOAD", lib, 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	exit(1);
}

/* Runs this program again (already preloaded) as `role`, with an extra
 * config if given; returns its exit status, or 128+signal. */
static __attribute__((unused)) int run_role(const char *role, const char *config_text)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		setenv(UG_ENV_ROLE, role, 1);
		if (config_text)
			setenv("UPLOADGUARD_CONFIG_TEXT", config_text, 1);
		execl("/proc/self/exe", "role", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif /* UG_UGTEST_H */
