/*
 * Name hooks: rename, renameat, renameat2, link, linkat, unlink, unlinkat.
 * A file moved or linked into a guarded subtree must fit there, or the call
 * fails with EFBIG/EDQUOT and the source stays where it was; a delete gives
 * its bytes back.  Paths are resolved as the kernel does (dirfds, symlinked
 * directories, "..") through an O_PATH open of the parent directory.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "backtrace.h"
#include "hooks.h"
#include "path.h"
#include "scratch.h"
#include "session.h"
#include "totals.h"

#include <time.h>

/* ---- where a directory is ------------------------------------------------
 * Resolving a directory's real path costs an O_PATH open, a readlink of
 * /proc/self/fd and a close.  A small cache keyed by the directory's
 * (dev, ino) keeps the answer for a second; our own directory renames
 * clear it.  A directory another process moves is seen after at most a
 * second.  trylock only: never waits, never held across fork.
 */
#define UG_DCACHE 64
#define UG_DCACHE_TTL_NS 1000000000LL

struct dir_ent {
	dev_t dev;
	ino_t ino;
	int64_t until;
	char *path;
};
static struct dir_ent dcache[UG_DCACHE];
static pthread_mutex_t dcache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct dir_ent *dslot(const struct stat *st)
{
	return &dcache[(st->st_ino ^ st->st_dev * 31) % UG_DCACHE];
}

static bool dir_cached(const struct stat *st, char *out, size_t outsz)
{
	struct dir_ent *e = dslot(st);
	bool hit = false;

	if (pthread_mutex_trylock(&dcache_lock) != 0)
		return false;
	if (e->path && e->dev == st->st_dev && e->ino == st->st_ino &&
	    ug__now_ns(CLOCK_MONOTONIC_COARSE) < e->until &&
	    strlen(e->path) < outsz) {
		strcpy(out, e->path);
		hit = true;
	}
	pthread_mutex_unlock(&dcache_lock);
	return hit;
}

static void dir_remember(const struct stat *st, const char *path)
{
	struct dir_ent *e = dslot(st);
	char *copy = strdup(path), *old;

	if (!copy)
		return;
	if (pthread_mutex_trylock(&dcache_lock) != 0) {
		free(copy);
		return;
	}
	old = e->path;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->until = ug__now_ns(CLOCK_MONOTONIC_COARSE) + UG_DCACHE_TTL_NS;
	e->path = copy;
	pthread_mutex_unlock(&dcache_lock);
	free(old);
}

static void dir_forget_all(void)
{
	int i;

	if (pthread_mutex_trylock(&dcache_lock) != 0)
		return;
	for (i = 0; i < UG_DCACHE; i++)
		dcache[i].until = 0;
	pthread_mutex_unlock(&dcache_lock);
}

/* The real path of directory `dir` (relative to dirfd), whose stat is pst. */
static int dir_path(int dirfd, const char *dir, const struct stat *pst,
		    char *out, size_t outsz)
{
	bool deleted;
	int dfd, n;

	if (dir_cached(pst, out, outsz))
		return 0;
	dfd = real_openat(dirfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	n = ug__fd_path(dfd, out, outsz, &deleted);
	real_close(dfd);
	if (n < 0)
		return -1;
	if (!deleted)
		dir_remember(pst, out);
	return 0;
}

struct ug_rootrt *ug__classify_name(int dirfd, const char *path, char *out,
				    size_t outsz, struct stat *st, char *work)
{
	char *dir = work, *dpath = work + PATH_MAX;
	const char *name, *slash;
	struct ug_rootrt *rt;
	struct stat pst;
	size_t len = strlen(path);

	st->st_mode = 0;
	if (len == 0 || len >= PATH_MAX - 2)
		return NULL;
	memcpy(dir, path, len + 1);
	while (len > 1 && dir[len - 1] == '/') /* "a/" names "a" */
		dir[--len] = '\0';
	slash = strrchr(dir, '/');
	if (!slash) {
		name = path;
		memmove(dir + 2, dir, len + 1);
		dir[0] = '.';
		dir[1] = '\0';
		name = dir + 2;
	} else if (slash == dir) {
		name = slash + 1;
		memmove(dir + 2, name, strlen(name) + 1);
		name = dir + 2;
		dir[1] = '\0';
	} else {
		dir[slash - dir] = '\0';
		name = slash + 1;
	}
	if (fstatat(dirfd, dir, &pst, 0) < 0 || !S_ISDIR(pst.st_mode) ||
	    !ug__dev_guarded(pst.st_dev))
		return NULL;
	if (dir_path(dirfd, dir, &pst, dpath, PATH_MAX) < 0 ||
	    ug__path_join(dpath, *name ? name : ".", out, outsz) < 0)
		return NULL;
	if (fstatat(dirfd, path, st, AT_SYMLINK_NOFOLLOW) < 0)
		st->st_mode = 0;
	rt = ug__root_for(out);
	if (rt)
		ug__bt_ensure(); /* a name in a root: backtraces ready */
	return rt;
}

/* Bytes and files a name brings: a regular file, or a whole directory. */
static void name_weight(const char *abs, const struct stat *st, int64_t *bytes,
			int64_t *files)
{
	*bytes = *files = 0;
	if (S_ISREG(st->st_mode)) {
		*bytes = st->st_size;
		*files = 1;
	} else if (S_ISDIR(st->st_mode)) {
		ug__measure_tree(abs, bytes, files);
	}
}

/* A guarded file open in this process follows its new name's root; fds of
 * files that were not guarded are classified again on their next write
 * (nginx renames its body temp file with the fd still open). */
static void moved(const struct stat *st, struct ug_rootrt *to)
{
	struct ug_inode *ino;

	pthread_mutex_lock(&ug__lock);
	ino = ug__inode_find(st->st_dev, st->st_ino);
	if (ino && to) {
		ino->root = to;
		ino->tmpfile = false;
	}
	pthread_mutex_unlock(&ug__lock);
	if (!ino && to)
		ug__fd_forget_plain();
}

/* A file that arrives under a name in a subtree (PHP's move_uploaded_file,
 * nginx's body temp file renamed into place) is owned, like a created one,
 * by the session bound to the thread that brings it; an owner it already
 * has stays (XATTR_CREATE).  Called with errno saved by the caller. */
static void claim_owner(struct ug_rootrt *rt, const char *abs,
			const struct stat *st)
{
	const struct ug_binding *b = ug__session_active();
	struct ug_inode *ino;

	if (!b || rt->cfg->owner || !S_ISREG(st->st_mode))
		return;
	if (lsetxattr(abs, "user.uploadguard.owner", ug__binding_digest(b), 16,
		      XATTR_CREATE) < 0)
		return;
	pthread_mutex_lock(&ug__lock);
	ino = ug__inode_find(st->st_dev, st->st_ino);
	if (ino && !ino->owner[0])
		memcpy(ino->owner, ug__binding_digest(b), sizeof(ino->owner));
	pthread_mutex_unlock(&ug__lock);
}

enum { NM_RENAME, NM_LINK };

/* The session the moved bytes belong to: the destination's path pattern,
 * else the file's own xattr (it travels with the inode). */
static void src_owner(struct ug_rootrt *rf, struct ug_rootrt *rtt,
		      const char *from, const char *to, char out[17])
{
	out[0] = '\0';
	if (rtt && rtt->cfg->owner)
		ug__owner_of_path(rtt, to, out);
	else if (rf && rf->cfg->owner)
		ug__owner_of_path(rf, from, out);
	else if (rf || rtt)
		ug__owner_of_path(rf ? rf : rtt, from, out);
}

/* rename/link of (fd1, p1) to (fd2, p2); real() does the call. */
static int move_common(int kind, int fd1, const char *p1, int fd2,
		       const char *p2, const char *op, int (*real)(void *),
		       void *ctx, const struct stat *srcst)
{
	char owner[17] = "", sowner[17] = "", *from, *to, *work;
	struct stat fst, tst;
	struct ug_rootrt *rf, *rtt;
	struct ug_admit a;
	int64_t bytes, files, dbytes = 0, dfiles = 0;
	int rc, err;
	UG_ERRNO_SAVE;

	if (!atomic_load_explicit(&ug__active, memory_order_relaxed) ||
	    !ug__enter())
		return real(ctx);
	/* paths live off the stack: threads may have 16 KiB stacks */
	from = ug__scratch_get();
	if (!from)
		goto pass;
	to = from + PATH_MAX;
	work = from + 2 * PATH_MAX;
	rtt = ug__classify_name(fd2, p2, to, PATH_MAX, &tst, work);
	if (srcst) { /* linkat of an fd */
		fst = *srcst;
		rf = NULL;
		from[0] = '\0';
		if (ug__fd_path(fd1, from, PATH_MAX, &(bool){0}) >= 0)
			rf = ug__root_for(from);
	} else {
		rf = ug__classify_name(fd1, p1, from, PATH_MAX, &fst, work);
	}
	if ((!rtt && !rf) || fst.st_mode == 0 ||
	    (S_ISREG(tst.st_mode) && tst.st_dev == fst.st_dev &&
	     tst.st_ino == fst.st_ino))
		goto pass;
	name_weight(from, &fst, &bytes, &files);
	if (rtt && S_ISREG(tst.st_mode) && tst.st_nlink == 1) {
		dbytes = tst.st_size;
		dfiles = 1;
	}
	/* owners matter to a thread serving a session and to max_session */
	if (rtt && ug__session_active())
		ug__owner_of_path(rtt, to, owner);
	if ((rtt && rtt->cfg->max_session != UG_UNLIMITED) ||
	    (rf && rf->cfg->max_session != UG_UNLIMITED))
		src_owner(rf, rtt, from, to, sowner);
	if (rtt == rf) /* inside one subtree: only a replaced file counts */
		bytes = files = 0;
	if (rtt && !ug__name_admit(rtt, bytes, files, dbytes, dfiles, owner,
				   sowner, &a)) {
		ug__name_report(&a, rtt, op, to, &fst, owner, -1, a.err);
		rc = -1;
		err = a.err;
		goto out;
	}
	if (rtt && a.mode == UG_MODE_ABORT && (a.rule || a.cross))
		ug__name_report(&a, rtt, op, to, &fst, owner, -1, 0);
	UG_ERRNO_RESTORE;
	rc = real(ctx);
	err = errno;
	if (rc < 0) {
		if (rtt)
			ug__name_undo(rtt, &a);
	} else {
		if (rtt) {
			ug__name_done(rtt, &a);
			ug__totals_changed(rtt);
		}
		if (rf && rf != rtt)
			ug__totals_changed(rf);
		if (kind == NM_RENAME && rf && rf != rtt) {
			int64_t b = 0, f = 0;
			name_weight(to, &fst, &b, &f);
			ug__ctr_add(ug__bytes_ctr(rf), -b);
			ug__ctr_add(&rf->tot->files, -f);
			ug__session_release(rf, sowner, b);
		}
		if (S_ISREG(fst.st_mode) && (kind == NM_RENAME || srcst))
			moved(&fst, rtt);
		if (S_ISDIR(fst.st_mode))
			dir_forget_all();
		if (rtt)
			claim_owner(rtt, to, &fst);
	}
	if (rtt)
		ug__name_report(&a, rtt, op, to, &fst, owner, rc, err);
out:
	ug__scratch_put(from);
	ug__leave();
	errno = rc < 0 ? err : ug_saved_errno_;
	return rc;
pass:
	ug__scratch_put(from);
	ug__leave();
	UG_ERRNO_RESTORE;
	return real(ctx);
}

struct ren_ctx {
	int fd1, fd2;
	const char *p1, *p2;
	unsigned flags;
	int which; /* 0 rename, 1 renameat, 2 renameat2, 3 link, 4 linkat */
};

static int do_name(void *c)
{
	struct ren_ctx *x = c;

	switch (x->which) {
	case 0:
		return real_rename(x->p1, x->p2);
	case 1:
		return real_renameat(x->fd1, x->p1, x->fd2, x->p2);
	case 2:
		return real_renameat2(x->fd1, x->p1, x->fd2, x->p2, x->flags);
	case 3:
		return real_link(x->p1, x->p2);
	default:
		return real_linkat(x->fd1, x->p1, x->fd2, x->p2, (int)x->flags);
	}
}

UG_EXPORT int rename(const char *from, const char *to)
{
	struct ren_ctx c = {AT_FDCWD, AT_FDCWD, from, to, 0, 0};

	return move_common(NM_RENAME, AT_FDCWD, from, AT_FDCWD, to, "rename",
			   do_name, &c, NULL);
}

UG_EXPORT int renameat(int fd1, const char *from, int fd2, const char *to)
{
	struct ren_ctx c = {fd1, fd2, from, to, 0, 1};

	return move_common(NM_RENAME, fd1, from, fd2, to, "renameat", do_name,
			   &c, NULL);
}

UG_EXPORT int renameat2(int fd1, const char *from, int fd2, const char *to,
			unsigned flags)
{
	struct ren_ctx c = {fd1, fd2, from, to, flags, 2};

	/* RENAME_EXCHANGE swaps two names: both stay, sizes swap roots */
	if (flags & RENAME_EXCHANGE)
		return real_renameat2(fd1, from, fd2, to, flags);
	return move_common(NM_RENAME, fd1, from, fd2, to, "renameat2", do_name,
			   &c, NULL);
}

UG_EXPORT int link(const char *from, const char *to)
{
	struct ren_ctx c = {AT_FDCWD, AT_FDCWD, from, to, 0, 3};

	return move_common(NM_LINK, AT_FDCWD, from, AT_FDCWD, to, "link",
			   do_name, &c, NULL);
}

/* "/proc/self/fd/N" names an fd: the O_TMPFILE idiom with AT_SYMLINK_FOLLOW */
static int proc_fd(const char *p)
{
	static const char pre[] = "/proc/self/fd/";
	int n = 0;

	if (strncmp(p, pre, sizeof(pre) - 1) != 0)
		return -1;
	p += sizeof(pre) - 1;
	if (!*p)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || n > 1000000)
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n;
}

UG_EXPORT int linkat(int fd1, const char *from, int fd2, const char *to,
		     int flags)
{
	struct ren_ctx c = {fd1, fd2, from, to, (unsigned)flags, 4};
	struct stat st;
	int src = -1;
	UG_ERRNO_SAVE;

	if ((flags & AT_EMPTY_PATH) && from[0] == '\0')
		src = fd1;
	else if (flags & AT_SYMLINK_FOLLOW)
		src = proc_fd(from);
	if (src >= 0 && atomic_load(&ug__active) && fstat(src, &st) == 0) {
		UG_ERRNO_RESTORE;
		return move_common(NM_LINK, src, NULL, fd2, to, "linkat",
				   do_name, &c, &st);
	}
	UG_ERRNO_RESTORE;
	return move_common(NM_LINK, fd1, from, fd2, to, "linkat", do_name, &c,
			   NULL);
}

/* ---- unlink
 * ------------------------------------------------------------------ */

static int unlink_common(int dirfd, const char *path, int flags, const char *op)
{
	char owner[17] = "", *abs;
	struct stat st;
	struct ug_rootrt *rt;
	struct ug_admit a;
	struct ug_inode *ino;
	int64_t bytes, files;
	int rc, err;
	UG_ERRNO_SAVE;

	abs = NULL;

	if (!atomic_load_explicit(&ug__active, memory_order_relaxed) ||
	    (flags & AT_REMOVEDIR) || !ug__enter())
		return flags || dirfd != AT_FDCWD
			   ? real_unlinkat(dirfd, path, flags)
			   : real_unlink(path);
	abs = ug__scratch_get(); /* off the stack: see move_common */
	if (!abs)
		goto pass_entered;
	rt = ug__classify_name(dirfd, path, abs, PATH_MAX, &st, abs + PATH_MAX);
	if (!rt || !S_ISREG(st.st_mode))
		goto pass_entered;
	if (ug__session_active() || rt->cfg->max_session != UG_UNLIMITED)
		ug__owner_of_path(rt, abs, owner);
	if (!ug__name_admit(rt, 0, 0, 0, 0, owner, NULL, &a)) {
		ug__name_report(&a, rt, op, abs, &st, owner, -1, a.err);
		rc = -1;
		err = a.err;
		goto out;
	}
	if (a.cross && a.mode == UG_MODE_ABORT)
		ug__name_report(&a, rt, op, abs, &st, owner, -1, 0);
	UG_ERRNO_RESTORE;
	rc = flags		 ? real_unlinkat(dirfd, path, flags)
	     : dirfd == AT_FDCWD ? real_unlink(path)
				 : real_unlinkat(dirfd, path, 0);
	err = errno;
	if (rc == 0)
		ug__totals_changed(rt);
	if (rc == 0 && st.st_nlink > 1) {
		/* its other names may be inside or outside: measure */
		ug__totals_rescan(rt, 0);
	} else if (rc == 0) {
		pthread_mutex_lock(&ug__lock);
		ino = ug__inode_find(st.st_dev, st.st_ino);
		if (ino) { /* still open here: its bytes go at the last close */
			ino->tmpfile = true;
			ino->scan_mark = atomic_load(&rt->tot->scans);
		}
		pthread_mutex_unlock(&ug__lock);
		name_weight(abs, &st, &bytes, &files);
		ug__ctr_add(&rt->tot->files, -files);
		if (!ino) {
			ug__ctr_add(ug__bytes_ctr(rt), -bytes);
			ug__session_release(rt, owner, bytes);
		}
	}
	ug__name_report(&a, rt, op, abs, &st, owner, rc, err);
out:
	ug__scratch_put(abs);
	ug__leave();
	errno = rc < 0 ? err : ug_saved_errno_;
	return rc;
pass_entered:
	ug__scratch_put(abs);
	ug__leave();
	UG_ERRNO_RESTORE;
	return flags || dirfd != AT_FDCWD ? real_unlinkat(dirfd, path, flags)
					  : real_unlink(path);
}

UG_EXPORT int unlink(const char *path)
{
	return unlink_common(AT_FDCWD, path, 0, "unlink");
}

UG_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	return unlink_common(dirfd, path, flags, "unlinkat");
}
