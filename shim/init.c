/*
 * The constructor: reads the environment and the config once, sets up the
 * roots, shared totals, fd table, log and backtraces, then turns the guard
 * on.  Also the fork handlers and the destructor.  Runs before the host's
 * threads (single-threaded); afterwards only reads what it set.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backtrace.h"
#include "event.h"
#include "guard.h"
#include "path.h"
#include "policy.h"
#include "session.h"
#include "totals.h"

/* Every environment variable the shim reads, defined once. */
#define UG_ENV_CONFIG "UPLOADGUARD_CONFIG"
#define UG_ENV_CONFIG_TEXT "UPLOADGUARD_CONFIG_TEXT"
#define UG_ENV_MODE "UPLOADGUARD_MODE"
#define UG_ENV_LOG "UPLOADGUARD_LOG"
#define UG_ENV_DISABLE "UPLOADGUARD_DISABLE"
#define UG_ENV_SESSION "UPLOADGUARD_SESSION"
#define UG_DEFAULT_CONFIG "/etc/uploadguard.conf"
#define UG_EXIT_CONFIG 78 /* EX_CONFIG */

struct ug_state ug__st = {.log_fd = -1};
atomic_bool ug__active;
_Atomic unsigned ug__fork_gen;
pthread_mutex_t ug__lock = PTHREAD_MUTEX_INITIALIZER;
UG_TLS int ug__depth;

pid_t ug__gettid(void) { return (pid_t)real_syscall(SYS_gettid); }

/* ---- roots ----------------------------------------------------------------
 */

struct ug_rootrt *ug__root_for(const char *abs)
{
	struct ug_rootrt *best = NULL;
	size_t i;

	for (i = 0; i < ug__st.nroots; i++) {
		struct ug_rootrt *rt = &ug__st.roots[i];

		if (ug__path_under(abs, rt->real, rt->reallen) &&
		    (!best || rt->reallen > best->reallen))
			best = rt;
	}
	return best;
}

/* Devices that hold guarded files: the roots' own, and those of the
 * filesystems mounted below a root (read from mountinfo at start). */
#define UG_MAX_DEVS 64
static dev_t guarded_devs[UG_MAX_DEVS];
static size_t nguarded_devs;
static bool any_dev; /* a root does not exist yet: every device */

bool ug__dev_guarded(dev_t dev)
{
	size_t i;

	if (any_dev)
		return true;
	for (i = 0; i < nguarded_devs; i++)
		if (guarded_devs[i] == dev)
			return true;
	return false;
}

static void add_dev(dev_t dev)
{
	size_t i;

	for (i = 0; i < nguarded_devs; i++)
		if (guarded_devs[i] == dev)
			return;
	if (nguarded_devs == UG_MAX_DEVS)
		any_dev = true; /* too many to list: check every device */
	else
		guarded_devs[nguarded_devs++] = dev;
}

/* Mountinfo escapes blanks in paths as \040 and kin: undo it in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static void scan_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char mnt[4096];

		/* id parent maj:min root mountpoint ... */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mnt) !=
		    3)
			continue;
		unescape(mnt);
		if (ug__root_for(mnt))
			add_dev(makedev(maj, min));
	}
	fclose(f);
}

static int setup_roots(void)
{
	size_t i;
	char err[512];

	ug__st.roots = calloc(ug__st.cfg.nroots, sizeof(*ug__st.roots));
	if (!ug__st.roots)
		return -ENOMEM;
	ug__st.nroots = ug__st.cfg.nroots;
	for (i = 0; i < ug__st.nroots; i++) {
		struct ug_rootrt *rt = &ug__st.roots[i];
		const struct ug_root *r = &ug__st.cfg.roots[i];
		char *real = realpath(r->path, NULL);
		struct stat st;

		rt->cfg = r;
		rt->mode = r->mode != UG_MODE_UNSET ? r->mode : ug__st.cfg.mode;
		rt->real = real ? real : strdup(r->path);
		if (!rt->real)
			return -ENOMEM;
		rt->reallen = strlen(rt->real);
		/* A root that does not exist yet is guarded by its path on
		 * every filesystem (uploadguard check says so, not every
		 * process start). */
		if (stat(rt->real, &st) == 0) {
			rt->dev = st.st_dev;
			rt->ino = st.st_ino;
			add_dev(st.st_dev);
		} else {
			any_dev = true;
		}
		if (r->max_files != UG_UNLIMITED || r->owner)
			ug__st.need_prestat = true;
		if (ug__totals_attach(rt, err, sizeof(err)) < 0)
			return -ENOMEM;
		if (err[0])
			ug__diag("%s", err);
	}
	return 0;
}

/* ---- configuration ----------------------------------------------------------
 */

/* Loads the config the environment names.  Returns 1 when there is one,
 * 0 when there is none (inert), -1 on error (message printed). */
static int load_config(void)
{
	const char *text = getenv(UG_ENV_CONFIG_TEXT);
	const char *path = getenv(UG_ENV_CONFIG);
	const char *mode = getenv(UG_ENV_MODE), *log = getenv(UG_ENV_LOG);
	char err[1024];
	int rc;

	if (text && *text) {
		rc = ug__config_parse(&ug__st.cfg, text, strlen(text),
				      UG_ENV_CONFIG_TEXT, err, sizeof(err));
	} else {
		rc = ug__config_load(&ug__st.cfg,
				     path && *path ? path : UG_DEFAULT_CONFIG,
				     err, sizeof(err));
		if (rc == -ENOENT && !(path && *path)) {
			/* no file and nothing asked for: inert, silently */
			if (!mode && !log)
				return 0;
			ug__config_defaults(&ug__st.cfg);
			rc = 0;
		}
	}
	if (rc == 0)
		rc = ug__config_env(&ug__st.cfg, mode, log, err, sizeof(err));
	if (rc < 0) {
		ug__diag("%s", err);
		return -1;
	}
	return 1;
}

static void read_exe(void)
{
	ssize_t n =
	    readlink("/proc/self/exe", ug__st.exe, sizeof(ug__st.exe) - 1);

	ug__st.exe[n > 0 ? n : 0] = '\0';
}

/* ---- fork -------------------------------------------------------------------
 */

static void atfork_prepare(void) { pthread_mutex_lock(&ug__lock); }

static void atfork_parent(void)
{
	atomic_fetch_add(&ug__fork_gen, 1);
	pthread_mutex_unlock(&ug__lock);
}

static void atfork_child(void)
{
	pthread_mutex_init(&ug__lock, NULL);
	atomic_fetch_add(&ug__fork_gen, 1);
	ug__st.pid = getpid();
	ug__fd_atfork_child();
	ug__log_atfork_child();
	ug__bt_atfork_child();
}

/* ---- constructor / destructor
 * ------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_once_fn(void)
{
	const char *dis = getenv(UG_ENV_DISABLE);
	char err[512];
	int rc;

	ug__depth++; /* our own calls pass straight through */
	ug__st.pid = getpid();
	read_exe();
	if (dis && strcmp(dis, "0") != 0 && *dis)
		goto out;
	rc = load_config();
	if (rc <= 0)
		goto fail;
	if (ug__st.cfg.only && fnmatch(ug__st.cfg.only, ug__st.exe, 0) != 0)
		goto out; /* not for this program: pay nothing */
	if (ug__st.cfg.nroots == 0)
		goto out;
	ug__resolve_real(); /* guarded: the whole table, before anything */
	/* Session checks (owners, cross-session writes) cost an xattr read
	 * per guarded open: only when asked for. */
	ug__st.sessions = ug__st.cfg.sessions || getenv(UG_ENV_SESSION);
	for (size_t i = 0; i < ug__st.cfg.nroots; i++)
		if (ug__st.cfg.roots[i].owner)
			ug__st.sessions = true;
	if (ug__fd_table_init() < 0 || setup_roots() < 0) {
		ug__diag("out of memory at start: the guard is off");
		goto out;
	}
	scan_mounts();
	if (ug__log_open(ug__st.cfg.log, err, sizeof(err)) < 0)
		ug__diag("%s: events will be counted as lost, caps still hold",
			 err);
	ug__log_process_info();
	/* libunwind loaded and warmed up now, before the host's threads and
	 * signal handlers: a trace never has to load it (the first classified
	 * file would otherwise, wherever that happens) */
	ug__bt_ensure();
	ug__session_init(getenv(UG_ENV_SESSION));
	ug__net_init();
	if (ug__st.cfg.io_uring_block)
		ug__block_io_uring();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	atomic_store(&ug__active, true);
	goto out;
fail:
	if (rc < 0 && ug__st.cfg.on_error_closed) {
		ug__diag("config error and on_error = closed: exiting");
		_exit(UG_EXIT_CONFIG);
	}
	if (rc < 0)
		ug__diag("the guard is off (on_error = open)");
out:
	ug__depth--;
}

void ug__init(void) { pthread_once(&init_once, init_once_fn); }

__attribute__((constructor(101))) static void ug_ctor(void) { ug__init(); }

__attribute__((destructor)) static void ug_dtor(void)
{
	if (atomic_load(&ug__active)) {
		ug__policy_exit();
		ug__log_exit();
	}
}
