/*
 * The forensic log under the real preload: many threads and processes at
 * once, a host that closes and dup2s over every fd, rotation, logs that
 * cannot be written (read-only place, symlink, FIFO, full file), syslog,
 * backtraces from a signal handler, audit events, rate limiting and the
 * lost-event count.  Each scenario runs in a role process with its own
 * config and log; lines are checked with python3's json module.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

/* paths below a mkdtemp dir are short: no truncation to fear */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "ugtest.h"

#define CAP 16

static const char config[] = "[guard]\n"
			     "mode = deny\n"
			     "log = @@/events.jsonl\n"
			     "[upload @@/cap]\n"
			     "max_file = 16\n";
static const char *const dirs[] = {"cap", NULL};

static char xbuf[64];

/* ---- helpers ------------------------------------------------------------ */

/* The config of a role: deny mode, `log` as given, one root with a 16-byte
 * max_file, plus extra [guard] lines. */
static const char *role_config(const char *log, const char *root,
			       const char *guard_extra)
{
	static char cfg[4096];

	snprintf(cfg, sizeof(cfg),
		 "[guard]\nmode = deny\nlog = %s\n%s[upload %s/%s]\n"
		 "max_file = 16\n",
		 log, guard_extra ? guard_extra : "", ug_dir, root);
	return cfg;
}

/* Starts this program as `role` with a config; stdout/stderr to the
 * given files when not NULL.  Returns the pid. */
static pid_t spawn_role(const char *role, const char *cfg, const char *out,
			const char *err)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		setenv(UG_ENV_ROLE, role, 1);
		setenv("UPLOADGUARD_CONFIG_TEXT", cfg, 1);
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(fd, 1);
			close(fd);
		}
		if (err) {
			int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			dup2(fd, 2);
			close(fd);
		}
		execl("/proc/self/exe", "role", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_role(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs a python3 check; args are exported as A1..A3.  The script exits
 * non-zero with a message when the check fails. */
static void pycheck(const char *script, const char *a1, const char *a2,
		    const char *a3)
{
	char path[PATH_MAX], cmd[PATH_MAX * 2];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/check-%d.py", ug_dir, rand());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("import json, os, sys, subprocess\n"
	      "A1, A2, A3 = (os.environ.get(k) for k in ('A1', 'A2', 'A3'))\n"
	      "def lines(p):\n"
	      "    data = open(p, 'rb').read()\n"
	      "    assert not data or data.endswith(b'\\n'), p + ': no final newline'\n"
	      "    out = []\n"
	      "    for i, raw in enumerate(data.split(b'\\n')[:-1]):\n"
	      "        try:\n"
	      "            o = json.loads(raw)\n"
	      "        except ValueError as e:\n"
	      "            sys.exit('%s:%d: not JSON (%s): %r' % (p, i + 1, e, raw[:200]))\n"
	      "        assert isinstance(o, dict), '%s:%d: not an object' % (p, i + 1)\n"
	      "        out.append(o)\n"
	      "    return out\n",
	      f);
	fputs(script, f);
	fclose(f);
	setenv("A1", a1 ? a1 : "", 1);
	setenv("A2", a2 ? a2 : "", 1);
	setenv("A3", a3 ? a3 : "", 1);
	snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD python3 '%s'", path);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("python check failed (%d): %s", rc, script);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = calloc(1, (size_t)n + 1);
	if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	fclose(f);
	return b;
}

/* One violation: a 32-byte write into a new file under dir (16 fit). */
static void violate_in(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", ug_dir, dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		_exit(90);
	if (write(fd, xbuf, 32) != CAP)
		_exit(91);
	close(fd);
}

static void mkdir_in(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", ug_dir, name);
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

/* ==== 16 threads x 4 processes x 500 violations ========================= */

#define FLOOD_THREADS 16
#define FLOOD_EACH 500
#define FLOOD_PROCS 4

static void *flood_thread(void *arg)
{
	long t = (long)arg;
	char name[64];
	int k;

	for (k = 0; k < FLOOD_EACH; k++) {
		snprintf(name, sizeof(name), "p%d-t%ld-%d", (int)getpid(), t, k);
		violate_in("flood", name);
	}
	return NULL;
}

static int role_flood(void)
{
	pthread_t th[FLOOD_THREADS];
	long t;

	for (t = 0; t < FLOOD_THREADS; t++)
		if (pthread_create(&th[t], NULL, flood_thread, (void *)t))
			return 2;
	for (t = 0; t < FLOOD_THREADS; t++)
		pthread_join(th[t], NULL);
	return 0;
}

static void test_log_many_threads_and_processes(void **s)
{
	char log[PATH_MAX];
	pid_t pids[FLOOD_PROCS];
	const char *cfg;
	int i;

	(void)s;
	mkdir_in("flood");
	snprintf(log, sizeof(log), "%s/flood.jsonl", ug_dir);
	cfg = role_config(log, "flood", NULL);
	for (i = 0; i < FLOOD_PROCS; i++)
		pids[i] = spawn_role("flood", cfg, NULL, NULL);
	for (i = 0; i < FLOOD_PROCS; i++)
		assert_int_equal(wait_role(pids[i]), 0);
	pycheck("ev = lines(A1)\n"
		"assert len(ev) == 32000, 'lines: %d' % len(ev)\n"
		"seqs, paths = {}, set()\n"
		"for o in ev:\n"
		"    assert o['event'] == 'cap_exceeded' and o['v'] == 1, o\n"
		"    assert o['rule'] == 'max_file' and o['verdict'] == 'denied', o\n"
		"    assert o['requested'] == 32 and o['allowed'] == 16, o\n"
		"    assert o['repeat'] == 0 and o['lost'] == 0, o\n"
		"    assert o['backtrace'], o\n"
		"    seqs.setdefault(o['pid'], set()).add(o['seq'])\n"
		"    paths.add(o['path'])\n"
		"assert len(seqs) == 4, seqs.keys()\n"
		"for pid, s in seqs.items():\n"
		"    assert s == set(range(1, 8001)), (pid, len(s))\n"
		"assert len(paths) == 32000\n",
		log, NULL, NULL);
}

/* ==== a daemonizing host: close everything, dup2 over the log ========== */

static int find_fd_of(const char *suffix)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char link[PATH_MAX], target[PATH_MAX];
	int found = -1;

	while (d && (e = readdir(d))) {
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strlen(target) >= strlen(suffix) &&
		    !strcmp(target + strlen(target) - strlen(suffix), suffix))
			found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static int role_daemon(void)
{
	char host[PATH_MAX];
	int fd, lfd, hfd;

	/* the classic daemon(3) loop, then stdio on /dev/null */
	for (fd = 0; fd < 1024; fd++)
		close(fd);
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 1);
	dup2(fd, 2);
	violate_in("daemon", "a");
	lfd = find_fd_of("/daemon.jsonl");
	if (lfd < 0)
		return 3;
	/* the host takes the log's number for a file of its own */
	snprintf(host, sizeof(host), "%s/daemon-host.txt", ug_dir);
	hfd = open(host, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (dup2(hfd, lfd) != lfd)
		return 4;
	close(hfd);
	if (write(lfd, "HOST\n", 5) != 5)
		return 5;
	violate_in("daemon", "b");
	/* and closes every fd again, three ways */
	close_range(3, ~0u, 0);
	violate_in("daemon", "c");
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	violate_in("daemon", "d");
	syscall(SYS_close_range, 3, ~0u, 0);
	violate_in("daemon", "e");
	return 0;
}

static void test_log_daemonize_close_and_dup2(void **s)
{
	char log[PATH_MAX], host[PATH_MAX];
	char *h;

	(void)s;
	mkdir_in("daemon");
	snprintf(log, sizeof(log), "%s/daemon.jsonl", ug_dir);
	snprintf(host, sizeof(host), "%s/daemon-host.txt", ug_dir);
	assert_int_equal(wait_role(spawn_role("daemon",
					      role_config(log, "daemon", NULL),
					      NULL, NULL)),
			 0);
	/* the host's file got the host's bytes, and none of ours */
	h = slurp(host);
	assert_string_equal(h, "HOST\n");
	free(h);
	pycheck("ev = lines(A1)\n"
		"got = sorted(os.path.basename(o['path']) for o in ev)\n"
		"assert got == ['a', 'b', 'c', 'd', 'e'], got\n"
		"assert [o['seq'] for o in ev] == [1, 2, 3, 4, 5]\n",
		log, NULL, NULL);
}

/* ==== rotation ============================================================== */

static _Atomic int rot_done;

static void *rot_thread(void *arg)
{
	long t = (long)arg;
	char name[64];
	int k;

	for (k = 0; k < 300; k++) {
		snprintf(name, sizeof(name), "t%ld-%d", t, k);
		violate_in("rot", name);
		atomic_fetch_add(&rot_done, 1);
	}
	return NULL;
}

static int role_rotate(void)
{
	char log[PATH_MAX], old[PATH_MAX], copy[PATH_MAX], cmd[PATH_MAX * 3];
	pthread_t th[8];
	long t;
	int k;

	snprintf(log, sizeof(log), "%s/rot.jsonl", ug_dir);
	snprintf(old, sizeof(old), "%s/rot.jsonl.1", ug_dir);
	snprintf(copy, sizeof(copy), "%s/rot.jsonl.2", ug_dir);
	for (t = 0; t < 8; t++)
		pthread_create(&th[t], NULL, rot_thread, (void *)t);
	/* logrotate's default: rename while the writers run */
	while (atomic_load(&rot_done) < 1000)
		sched_yield();
	if (rename(log, old) != 0)
		return 2;
	for (t = 0; t < 8; t++)
		pthread_join(th[t], NULL);
	if (access(log, F_OK) != 0)
		return 3; /* the shim reopened the path */
	for (k = 0; k < 100; k++) {
		char name[32];
		snprintf(name, sizeof(name), "b%d", k);
		violate_in("rot", name);
	}
	/* copytruncate (at a quiet moment: what it copies is what it cuts) */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && truncate -s 0 '%s'", log,
		 copy, log);
	if (system(cmd) != 0)
		return 4;
	for (k = 0; k < 100; k++) {
		char name[32];
		snprintf(name, sizeof(name), "c%d", k);
		violate_in("rot", name);
	}
	return 0;
}

static void test_log_rotation_loses_nothing(void **s)
{
	char log[PATH_MAX], old[PATH_MAX], copy[PATH_MAX];

	(void)s;
	mkdir_in("rot");
	snprintf(log, sizeof(log), "%s/rot.jsonl", ug_dir);
	snprintf(old, sizeof(old), "%s/rot.jsonl.1", ug_dir);
	snprintf(copy, sizeof(copy), "%s/rot.jsonl.2", ug_dir);
	assert_int_equal(wait_role(spawn_role("rotate",
					      role_config(log, "rot", NULL),
					      NULL, NULL)),
			 0);
	pycheck("a, b, c = lines(A1), lines(A2), lines(A3)\n"
		"assert a and b and c, (len(a), len(b), len(c))\n"
		"seqs = sorted(o['seq'] for o in a + b + c)\n"
		"assert seqs == list(range(1, 2601)), len(seqs)\n"
		"assert all(os.path.basename(o['path']).startswith('c') for o in c)\n"
		"assert b'\\0' not in open(A3, 'rb').read()\n",
		old, copy, log);
}

/* ==== logs that cannot be written ========================================= */

static int role_quiet(void)
{
	int k;

	printf("hello stdout\n");
	fflush(stdout);
	fprintf(stderr, "hello stderr\n");
	for (k = 0; k < 5; k++) {
		char name[32];
		snprintf(name, sizeof(name), "q%d", k);
		violate_in("quiet", name);
	}
	printf("done\n");
	return 0;
}

/* Runs role_quiet with log = `log`; checks the host saw nothing change
 * and the guard still held; returns the role's stderr (malloc'ed). */
static char *run_quiet(const char *log)
{
	char out[PATH_MAX], err[PATH_MAX], p[PATH_MAX];
	char *o;
	struct timespec t0, t1;
	int k;

	mkdir_in("quiet");
	snprintf(out, sizeof(out), "%s/quiet.out", ug_dir);
	snprintf(err, sizeof(err), "%s/quiet.err", ug_dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(wait_role(spawn_role("quiet",
					      role_config(log, "quiet", NULL),
					      out, err)),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 10); /* never blocked */
	o = slurp(out);
	assert_string_equal(o, "hello stdout\ndone\n");
	free(o);
	for (k = 0; k < 5; k++) {
		snprintf(p, sizeof(p), "%s/quiet/q%d", ug_dir, k);
		assert_int_equal(disk_size(p), CAP);
	}
	o = slurp(err);
	assert_non_null(strstr(o, "hello stderr\n"));
	return o;
}

static void test_log_unwritable_place_does_not_hurt_host(void **s)
{
	char log[PATH_MAX], file[PATH_MAX], *err;

	(void)s;
	/* a directory that is a file: open fails even for root */
	snprintf(file, sizeof(file), "%s/notadir", ug_dir);
	make_file(file, 0);
	snprintf(log, sizeof(log), "%s/notadir/events.jsonl", ug_dir);
	err = run_quiet(log);
	assert_non_null(strstr(err, "cannot open log"));
	assert_non_null(strstr(err, "5 event(s) could not be written"));
	free(err);
	/* a read-only directory (meaningful when not root) */
	mkdir_in("ro");
	snprintf(log, sizeof(log), "%s/ro/events.jsonl", ug_dir);
	chmod(P("ro"), 0555);
	err = run_quiet(log);
	if (geteuid() != 0)
		assert_non_null(strstr(err, "5 event(s) could not be written"));
	free(err);
	chmod(P("ro"), 0755);
}

static void test_log_symlink_refused(void **s)
{
	char log[PATH_MAX], victim[PATH_MAX], *err;

	(void)s;
	snprintf(victim, sizeof(victim), "%s/victim.txt", ug_dir);
	make_file(victim, 0);
	snprintf(log, sizeof(log), "%s/planted.jsonl", ug_dir);
	assert_int_equal(symlink(victim, log), 0);
	err = run_quiet(log);
	assert_non_null(strstr(err, "symlink (refused)"));
	assert_int_equal(disk_size(victim), 0); /* nothing written through */
	free(err);
}

static void test_log_fifo_refused_without_blocking(void **s)
{
	char log[PATH_MAX], buf[64], *err;
	int rd;

	(void)s;
	snprintf(log, sizeof(log), "%s/fifo.jsonl", ug_dir);
	assert_int_equal(mkfifo(log, 0644), 0);
	/* no reader: an open for writing would block without O_NONBLOCK */
	err = run_quiet(log);
	assert_non_null(strstr(err, "cannot open log"));
	free(err);
	/* with a reader: the open succeeds, and is refused all the same */
	rd = open(log, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	err = run_quiet(log);
	assert_non_null(strstr(err, "not a regular file (refused)"));
	assert_true(read(rd, buf, sizeof(buf)) <= 0);
	close(rd);
	free(err);
}

/* A log that stops taking writes mid-run (RLIMIT_FSIZE, like a full
 * disk): the events are counted, reported by the next line that can be
 * written, and at exit. */
static int role_lost(void)
{
	struct rlimit rl;
	struct stat st;
	char log[PATH_MAX];
	int k;

	signal(SIGXFSZ, SIG_IGN);
	snprintf(log, sizeof(log), "%s/lost.jsonl", ug_dir);
	violate_in("lost", "a0");
	violate_in("lost", "a1");
	stat(log, &st);
	rl.rlim_cur = rl.rlim_max = (rlim_t)st.st_size;
	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = (rlim_t)st.st_size;
	setrlimit(RLIMIT_FSIZE, &rl);
	for (k = 0; k < 5; k++) {
		char name[32];
		snprintf(name, sizeof(name), "b%d", k);
		violate_in("lost", name); /* 16 bytes fit under the limit */
	}
	rl.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &rl);
	violate_in("lost", "c0"); /* reports the 5 */
	stat(log, &st);
	rl.rlim_cur = (rlim_t)st.st_size;
	setrlimit(RLIMIT_FSIZE, &rl);
	violate_in("lost", "d0");
	violate_in("lost", "d1"); /* lost, and not written at exit either */
	return 0;
}

static void test_log_lost_events_counted_and_reported(void **s)
{
	char log[PATH_MAX], err[PATH_MAX], *e;

	(void)s;
	mkdir_in("lost");
	snprintf(log, sizeof(log), "%s/lost.jsonl", ug_dir);
	snprintf(err, sizeof(err), "%s/lost.err", ug_dir);
	assert_int_equal(wait_role(spawn_role("lost",
					      role_config(log, "lost", NULL),
					      NULL, err)),
			 0);
	pycheck("ev = lines(A1)\n"
		"got = [(os.path.basename(o['path']), o['lost']) for o in ev]\n"
		"assert got == [('a0', 0), ('a1', 0), ('c0', 5)], got\n",
		log, NULL, NULL);
	e = slurp(err);
	assert_non_null(strstr(e, "2 event(s) could not be written"));
	free(e);
}

/* ==== syslog ================================================================ */

/* In a private mount namespace with a tmpfs on /dev, our own datagram
 * socket is /dev/log; the role inherits it and reads what the shim sent. */
static int role_syslog(void)
{
	int sfd = atoi(getenv("UG_SYSLOG_FD")), k, got = 0, bad = 0;
	char dgram[65536], name[32];
	struct timespec t0, t1;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < 200; k++) { /* far more than the socket queue holds */
		snprintf(name, sizeof(name), "s%d", k);
		violate_in("slog", name);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (t1.tv_sec - t0.tv_sec > 5)
		return 2; /* it blocked */
	while ((n = recv(sfd, dgram, sizeof(dgram) - 1, MSG_DONTWAIT)) > 0) {
		dgram[n] = '\0';
		got++;
		if (strncmp(dgram, "<12>uploadguard[", 16) != 0 ||
		    !strstr(dgram, "]: {\"v\":1,") || dgram[n - 1] != '}')
			bad++;
	}
	if (got == 0 || bad)
		return 3;
	violate_in("slog", "last"); /* reports the ones the queue refused */
	n = recv(sfd, dgram, sizeof(dgram) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return 4;
	dgram[n] = '\0';
	snprintf(name, sizeof(name), "\"lost\":%d,", 200 - got);
	if (!strstr(dgram, name) || !strstr(dgram, "slog/last"))
		return 5;
	return 0;
}

static void test_log_syslog_nonblocking(void **s)
{
	pid_t pid;
	int st;

	(void)s;
	mkdir_in("slog");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int dev, sfd;
		char fdn[16];

		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			_exit(77);
		dev = open("/dev", O_PATH | O_DIRECTORY);
		if (mount("none", "/dev", "tmpfs", 0, "mode=755") != 0)
			_exit(77);
		/* keep /dev/shm (the shared totals) and /dev/null */
		mkdir("/dev/shm", 01777);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/shm",
			 dev);
		if (mount(sa.sun_path, "/dev/shm", NULL, MS_BIND, NULL) != 0)
			_exit(77);
		close(open("/dev/null", O_CREAT | O_WRONLY, 0666));
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/null",
			 dev);
		mount(sa.sun_path, "/dev/null", NULL, MS_BIND, NULL);
		sfd = socket(AF_UNIX, SOCK_DGRAM, 0);
		strcpy(sa.sun_path, "/dev/log");
		if (bind(sfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			_exit(76);
		snprintf(fdn, sizeof(fdn), "%d", sfd);
		setenv("UG_SYSLOG_FD", fdn, 1);
		setenv(UG_ENV_ROLE, "syslog", 1);
		setenv("UPLOADGUARD_CONFIG_TEXT",
		       role_config("syslog", "slog", NULL), 1);
		execl("/proc/self/exe", "role", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		print_message("SKIP-PART: no mount namespace for /dev/log\n");
		return;
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ==== a violation inside a signal handler ================================== */

static int sig_fd = -1;

__attribute__((noinline)) void ug_test_sig_handler(int sig)
{
	(void)sig;
	/* async-signal-safe calls only: pwrite past the cap */
	if (pwrite(sig_fd, xbuf, 40, 0) != CAP)
		_exit(9);
}

__attribute__((noinline)) static int raise_it(void)
{
	return raise(SIGUSR1);
}

static int role_signal(void)
{
	struct sigaction sa;
	char path[PATH_MAX];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ug_test_sig_handler;
	sigaction(SIGUSR1, &sa, NULL);
	snprintf(path, sizeof(path), "%s/sig/f", ug_dir);
	sig_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (sig_fd < 0 || raise_it() != 0)
		return 2;
	/* and from another thread's signal, while this one is busy */
	return 0;
}

static void test_log_backtrace_from_signal_handler(void **s)
{
	char log[PATH_MAX], exe[PATH_MAX];
	ssize_t n;

	(void)s;
	mkdir_in("sig");
	snprintf(log, sizeof(log), "%s/sig.jsonl", ug_dir);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(wait_role(spawn_role("signal",
					      role_config(log, "sig", NULL),
					      NULL, NULL)),
			 0);
	assert_int_equal(disk_size(P("sig/f")), CAP);
	/* the frames: the handler (in our executable, named by addr2line
	 * from module+offset), the kernel's signal trampoline in libc, then
	 * the code the signal interrupted (raise_it). */
	pycheck("ev = lines(A1)\n"
		"assert len(ev) == 1, ev\n"
		"fr = ev[0]['backtrace']\n"
		"def fn(f):\n"
		"    if f['module'] != A2: return None\n"
		"    off = int(f['offset'], 16) - 1\n"
		"    r = subprocess.run(['addr2line', '-f', '-e', A2, hex(off)],\n"
		"                       capture_output=True, text=True)\n"
		"    return r.stdout.split('\\n')[0]\n"
		"names = [fn(f) for f in fr]\n"
		"assert names[0] == 'ug_test_sig_handler', names\n"
		"assert 'raise_it' in names and 'role_signal' in names, names\n"
		"assert names.index('raise_it') > 1, names\n"
		"libc = [f for f in fr[1:names.index('raise_it')]\n"
		"        if 'libc' in f['module']]\n"
		"assert libc, fr\n"
		"for f in fr:\n"
		"    assert f['build_id'] and f['offset'].startswith('0x'), f\n"
		"    assert int(f['ip'], 16) > int(f['offset'], 16) or f['module'] == A2, f\n",
		log, exe, NULL);
}

/* ==== audit ================================================================== */

static int role_audit(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/aud/small", ug_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (write(fd, xbuf, 10) != 10)
		return 2;
	close(fd);
	violate_in("aud", "big");
	return 0;
}

static void test_log_audit_file_closed(void **s)
{
	char log[PATH_MAX];

	(void)s;
	mkdir_in("aud");
	snprintf(log, sizeof(log), "%s/aud.jsonl", ug_dir);
	assert_int_equal(wait_role(spawn_role("audit",
					      role_config(log, "aud",
							  "audit = on\n"),
					      NULL, NULL)),
			 0);
	pycheck("ev = lines(A1)\n"
		"cl = [(os.path.basename(o['path']), o['written'], o['size_after'])\n"
		"      for o in ev if o['event'] == 'file_closed']\n"
		"assert cl == [('small', 10, 10), ('big', 16, 16)], cl\n"
		"assert [o['event'] for o in ev].count('cap_exceeded') == 1\n",
		log, NULL, NULL);
}

/* ==== rate limiting ============================================================ */

static int role_rate(void)
{
	char path[PATH_MAX];
	int fd, k;

	snprintf(path, sizeof(path), "%s/rate/f", ug_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (k = 0; k < 1000; k++) /* one call site, one file */
		if (pwrite(fd, xbuf, 32, 0) != CAP)
			return 2;
	sleep(2); /* a new window: the next one says what was held */
	if (pwrite(fd, xbuf, 32, 0) != CAP)
		return 3;
	close(fd);
	return 0;
}

static void test_log_rate_limit_counts_everything(void **s)
{
	char log[PATH_MAX];

	(void)s;
	mkdir_in("rate");
	snprintf(log, sizeof(log), "%s/rate.jsonl", ug_dir);
	assert_int_equal(wait_role(spawn_role("rate",
					      role_config(log, "rate", NULL),
					      NULL, NULL)),
			 0);
	pycheck("ev = lines(A1)\n"
		"assert 1 < len(ev) < 200, len(ev)\n"
		"total = sum(1 + o['repeat'] for o in ev)\n"
		"assert total == 1001, (total, len(ev))\n"
		"assert ev[-1]['repeat'] > 0, ev[-1]\n",
		log, NULL, NULL);
}

/* ==== every field issue 4 lists ================================================= */

static void test_log_event_fields(void **s)
{
	char log[PATH_MAX];

	(void)s;
	mkdir_in("fields");
	snprintf(log, sizeof(log), "%s/fields.jsonl", ug_dir);
	assert_int_equal(wait_role(spawn_role("fields",
					      role_config(log, "fields", NULL),
					      NULL, NULL)),
			 0);
	pycheck("ev = lines(A1)\n"
		"assert len(ev) == 2, ev\n"
		"keys = '''v seq time mono_ns event rule verdict op path fd offset\n"
		"requested allowed ret errno limit size_before size_after\n"
		"total_before total_after root caps dev ino session owner binding\n"
		"repeat pid ppid tid comm exe cmdline uid euid gid hostname\n"
		"container_id cgroup mnt_ns pid_ns lost backtrace'''.split()\n"
		"for o in ev:\n"
		"    missing = [k for k in keys if k not in o]\n"
		"    assert not missing, missing\n"
		"    import re\n"
		"    assert re.fullmatch(r'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z', o['time'])\n"
		"    assert o['pid'] > 1 and o['tid'] > 1 and o['mnt_ns'] > 0\n"
		"    assert o['caps'] == {'max_file': 16}, o['caps']\n"
		"    for f in o['backtrace']:\n"
		"        assert set(f) >= {'ip', 'module', 'offset', 'build_id'}, f\n"
		"a, b = ev\n"
		"assert (a['op'], a['ret'], a['errno'], a['size_before'], a['size_after'])"
		" == ('write', 16, None, 0, 16), a\n"
		"assert (b['op'], b['ret'], b['errno'], b['allowed']) == ('pwrite64', -1, 'EFBIG', 0), b\n"
		"assert b['offset'] == 100 and a['total_after'] in (None, 16), b\n"
		"libc = [f for f in a['backtrace'] if 'libc.so' in f['module']]\n"
		"assert any(f.get('symbol', '').startswith('__libc_start_main') or\n"
		"           f.get('symbol', '').startswith('__libc_start_call_main')\n"
		"           for f in libc) or libc, a['backtrace']\n",
		log, NULL, NULL);
}

static int role_fields(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/fields/f", ug_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (write(fd, xbuf, 32) != CAP)
		return 2;
	if (pwrite64(fd, xbuf, 8, 100) != -1 || errno != EFBIG)
		return 3;
	close(fd);
	return 0;
}

/* ==== main ================================================================== */

static int run_role_main(const char *role)
{
	if (!strcmp(role, "flood"))
		return role_flood();
	if (!strcmp(role, "daemon"))
		return role_daemon();
	if (!strcmp(role, "rotate"))
		return role_rotate();
	if (!strcmp(role, "quiet"))
		return role_quiet();
	if (!strcmp(role, "lost"))
		return role_lost();
	if (!strcmp(role, "syslog"))
		return role_syslog();
	if (!strcmp(role, "signal"))
		return role_signal();
	if (!strcmp(role, "audit"))
		return role_audit();
	if (!strcmp(role, "rate"))
		return role_rate();
	if (!strcmp(role, "fields"))
		return role_fields();
	return 99;
}

int main(int argc, char **argv)
{
	const char *role;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_event_fields),
		cmocka_unit_test(test_log_many_threads_and_processes),
		cmocka_unit_test(test_log_daemonize_close_and_dup2),
		cmocka_unit_test(test_log_rotation_loses_nothing),
		cmocka_unit_test(test_log_unwritable_place_does_not_hurt_host),
		cmocka_unit_test(test_log_symlink_refused),
		cmocka_unit_test(test_log_fifo_refused_without_blocking),
		cmocka_unit_test(test_log_lost_events_counted_and_reported),
		cmocka_unit_test(test_log_syslog_nonblocking),
		cmocka_unit_test(test_log_backtrace_from_signal_handler),
		cmocka_unit_test(test_log_audit_file_closed),
		cmocka_unit_test(test_log_rate_limit_counts_everything),
	};
	int rc;

	memset(xbuf, 'x', sizeof(xbuf));
	ug_reexec(argc, argv, config, dirs);
	role = getenv(UG_ENV_ROLE);
	if (role)
		return run_role_main(role);
	if (getenv("UG_TEST_FILTER")) /* e.g. "*signal*" for valgrind runs */
		cmocka_set_test_filter(getenv("UG_TEST_FILTER"));
	rc = cmocka_run_group_tests_name("log", tests, NULL, NULL);
	if (rc == 0) { /* keep the scratch dir of a failed run */
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ug_dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
