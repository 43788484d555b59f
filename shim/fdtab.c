/*
 * The fd table and the records of guarded files.
 * Readers (every hook) load ug__fds[fd] lock-free and pin a desc with an
 * atomic reference; descs are type-stable (recycled, never freed) so a
 * reader that raced a close only touches a live object and re-validates.
 * Creating and dropping records takes ug__lock (open/close paths only).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backtrace.h"
#include "guard.h"
#include "path.h"
#include "policy.h"
#include "scratch.h"
#include "session.h"
#include "totals.h"

_Atomic uintptr_t *ug__fds;
int ug__nfds;
_Atomic int ug__fd_hwm;

/* Desc refs are atomic; the struct keeps `int refs` for layout, used here
 * through this view. */
#define DREFS(d) ((_Atomic int *)&(d)->refs)

static struct ug_desc *desc_free; /* recycled descs (under ug__lock) */
static struct ug_desc **desc_all; /* every desc ever made, for fork */
static size_t desc_nall, desc_capall;

/* Guarded files by (dev, ino): chained buckets, doubled as they fill.
 * Under ug__lock; 8 bytes a file plus the bucket array. */
static struct ug_inode **buckets;
static size_t nbuckets, ninodes;

static size_t bucket_of(dev_t dev, ino_t ino, size_t n)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (size_t)(h >> 17) & (n - 1);
}

static bool grow_buckets(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 256, i;
	struct ug_inode **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return false;
	for (i = 0; i < nbuckets; i++) {
		struct ug_inode *e = buckets[i], *next;
		for (; e; e = next) {
			size_t b = bucket_of(e->dev, e->ino, n);
			next = e->next;
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(buckets);
	buckets = nb;
	nbuckets = n;
	return true;
}

int ug__fd_table_init(void)
{
	struct rlimit rl;
	size_t n = 65536;
	void *p;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		n = rl.rlim_max == RLIM_INFINITY ? (1u << 20) : rl.rlim_max;
		if (n < 1024)
			n = 1024;
		if (n > (1u << 20))
			n = 1u << 20;
	}
	/* untouched pages cost nothing: 8 MiB of address space at most */
	p = mmap(NULL, n * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	ug__fds = p;
	ug__nfds = (int)n;
	return 0;
}

static void hwm(int fd)
{
	int cur = atomic_load_explicit(&ug__fd_hwm, memory_order_relaxed);

	while (fd > cur && !atomic_compare_exchange_weak(&ug__fd_hwm, &cur, fd))
		;
}

static void fd_put(int fd, uintptr_t v)
{
	if ((unsigned)fd >= (unsigned)ug__nfds)
		return;
	hwm(fd);
	atomic_store_explicit(&ug__fds[fd], v, memory_order_release);
}

/* ---- records (under ug__lock) ----------------------------------------- */

static struct ug_inode *inode_get(const struct stat *st, const char *path,
				  struct ug_rootrt *rt)
{
	struct ug_inode *e = ug__inode_find(st->st_dev, st->st_ino);
	size_t plen = strlen(path), b;

	if (e) {
		e->refs++;
		return e;
	}
	if (ninodes >= 2 * nbuckets && !grow_buckets() && !nbuckets)
		return NULL;
	e = calloc(1, sizeof(*e) + plen + 1);
	if (!e)
		return NULL;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->refs = 1;
	atomic_init(&e->size, st->st_size);
	e->root = rt;
	memcpy(e->path, path, plen + 1);
	b = bucket_of(e->dev, e->ino, nbuckets);
	e->next = buckets[b];
	buckets[b] = e;
	ninodes++;
	return e;
}

static void inode_put(struct ug_inode *ino)
{
	struct ug_inode **pp;

	if (--ino->refs > 0)
		return;
	for (pp = &buckets[bucket_of(ino->dev, ino->ino, nbuckets)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == ino) {
			*pp = ino->next;
			ninodes--;
			break;
		}
	}
	free(ino);
}

struct ug_inode *ug__inode_find(dev_t dev, ino_t ino)
{
	struct ug_inode *e;

	if (!nbuckets)
		return NULL;
	for (e = buckets[bucket_of(dev, ino, nbuckets)]; e; e = e->next)
		if (e->dev == dev && e->ino == ino)
			return e;
	return NULL;
}

static struct ug_desc *desc_new(void)
{
	struct ug_desc *d = desc_free;

	if (d) {
		desc_free = (struct ug_desc *)d->ino;
	} else {
		if (desc_nall == desc_capall) {
			size_t nc = desc_capall ? desc_capall * 2 : 64;
			void *p = realloc(desc_all, nc * sizeof(*desc_all));
			if (!p)
				return NULL;
			desc_all = p;
			desc_capall = nc;
		}
		d = calloc(1, sizeof(*d));
		if (!d)
			return NULL;
		desc_all[desc_nall++] = d;
	}
	memset(d, 0, sizeof(*d));
	atomic_flag_clear(&d->lock);
	return d;
}

static void desc_release(struct ug_desc *d)
{
	pthread_mutex_lock(&ug__lock);
	if (atomic_load(DREFS(d)) == 0) {
		ug__policy_closed(d);
		if (d->ino)
			inode_put(d->ino);
		d->ino = (struct ug_inode *)desc_free;
		desc_free = d;
	}
	pthread_mutex_unlock(&ug__lock);
}

void ug__desc_put(struct ug_desc *d)
{
	if (atomic_fetch_sub(DREFS(d), 1) == 1)
		desc_release(d);
}

/* Pins the desc at fd, or NULL when fd does not hold one. */
static struct ug_desc *desc_pin(int fd)
{
	for (;;) {
		uintptr_t e = ug__fd_get(fd);
		struct ug_desc *d;

		if (e == UG_FD_UNKNOWN || (e & 3))
			return NULL;
		d = (struct ug_desc *)e;
		atomic_fetch_add(DREFS(d), 1);
		if (ug__fd_get(fd) == e)
			return d;
		ug__desc_put(d);
	}
}

/* A vfork child shares our memory but has its own fd table: it must leave
 * the records (and the locks and heap behind them) alone.  Only asked when
 * a record would change, so the getpid costs nothing on plain fds. */
static bool in_vfork_child(void) { return getpid() != ug__st.pid; }

/* May this process change fd's record?  (Not a vfork child holding a
 * record of the parent's.) */
static bool may_touch(int fd)
{
	uintptr_t e = ug__fd_get(fd);

	return e == UG_FD_UNKNOWN || e == UG_FD_PLAIN || !in_vfork_child();
}

/* ---- classification ---------------------------------------------------- */

int ug__fd_path(int fd, char *buf, size_t size, bool *deleted)
{
	char link[32] = "/proc/self/fd/", num[12];
	ssize_t n;
	static const char del[] = " (deleted)";
	size_t dl = sizeof(del) - 1, k = 0, l = 14;

	do { /* by hand: snprintf is not async-signal-safe */
		num[k++] = (char)('0' + fd % 10);
		fd /= 10;
	} while (fd);
	while (k)
		link[l++] = num[--k];
	link[l] = '\0';
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	*deleted = false;
	if ((size_t)n > dl && memcmp(buf + n - dl, del, dl) == 0) {
		n -= (ssize_t)dl;
		buf[n] = '\0';
		*deleted = true;
	}
	if (buf[0] != '/')
		return -EINVAL; /* "anon_inode:", "pipe:[...]" */
	return (int)n;
}

/* Builds the guarded record for fd, or returns NULL when it is not guarded.
 * st: fstat of fd. */
static struct ug_desc *classify(int fd, const struct stat *st, int oflags,
				const char *op)
{
	struct ug_rootrt *rt;
	struct ug_desc *d;
	bool deleted = false;
	char *path;

	if (!S_ISREG(st->st_mode) || !ug__dev_guarded(st->st_dev))
		return NULL;
	path = ug__scratch_get();
	if (!path)
		return NULL;
	if (ug__fd_path(fd, path, PATH_MAX, &deleted) < 0)
		goto out_none;
	rt = ug__root_for(path);
	if (!rt || in_vfork_child()) /* a vfork child must not allocate */
		goto out_none;
	ug__bt_ensure(); /* the first guarded file: backtraces ready */
	pthread_mutex_lock(&ug__lock);
	d = desc_new();
	if (d) {
		d->ino = inode_get(st, path, rt);
		if (!d->ino) {
			d->ino = (struct ug_inode *)desc_free;
			desc_free = d;
			d = NULL;
		}
	}
	if (d) {
		atomic_store(DREFS(d), 1);
		d->oflags = oflags;
		d->born_gen = atomic_load(&ug__fork_gen);
		if (deleted && !d->ino->tmpfile) {
			d->ino->tmpfile = true;
			d->ino->scan_mark = atomic_load(&rt->tot->scans);
		}
		ug__policy_opened(d, op);
	}
	pthread_mutex_unlock(&ug__lock);
	ug__scratch_put(path);
	return d;
out_none:
	ug__scratch_put(path);
	return NULL;
}

struct ug_desc *ug__desc_get(int fd)
{
	struct ug_desc *d;
	struct stat st;
	int fl;
	uintptr_t e = ug__fd_get(fd);

	if (e != UG_FD_UNKNOWN)
		return desc_pin(fd);
	/* An fd we never saw opened (inherited, shell redirection, dup'ed by
	 * a raw syscall): classify it once. */
	if (fstat(fd, &st) < 0)
		return NULL;
	fl = real_fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
		fd_put(fd, UG_FD_PLAIN);
		return NULL;
	}
	d = classify(fd, &st, fl, NULL);
	if (!d) {
		fd_put(fd, UG_FD_PLAIN);
		return NULL;
	}
	fd_put(fd, (uintptr_t)d);
	atomic_fetch_add(DREFS(d), 1); /* the caller's pin */
	return d;
}

int ug__fd_opened(int fd, int oflags, bool created, const char *op)
{
	struct ug_desc *d;
	struct stat st;
	int rc;

	if ((unsigned)fd >= (unsigned)ug__nfds || !may_touch(fd))
		return 0;
	ug__fd_closed(fd); /* a stale record from a close we did not see */
	if ((oflags & O_ACCMODE) == O_RDONLY && !(oflags & O_TRUNC) &&
	    !created) {
		fd_put(fd, UG_FD_PLAIN);
		return 0;
	}
	/* Nothing to decide at the open itself (no file count to keep, no
	 * session to check or to own the file): classify at the first write
	 * instead, so an open that never writes, and every open outside the
	 * roots, costs one store here. */
	if (!(created && ug__st.need_prestat) && !ug__session_active()) {
		fd_put(fd, UG_FD_UNKNOWN);
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		fd_put(fd, UG_FD_UNKNOWN);
		return 0;
	}
	d = classify(fd, &st, oflags, op);
	if (!d) {
		fd_put(fd, UG_FD_PLAIN);
		return 0;
	}
	if (!(oflags & O_APPEND)) {
		d->pos = 0;
		d->pos_valid = true;
	}
	rc = ug__policy_open_check(d, fd, oflags, created, op);
	if (rc < 0) {
		ug__desc_put(d);
		return rc;
	}
	fd_put(fd, (uintptr_t)d);
	return 0;
}

void ug__fd_closed(int fd)
{
	uintptr_t e;

	if ((unsigned)fd >= (unsigned)ug__nfds)
		return;
	if (!may_touch(fd))
		return;
	e = atomic_exchange(&ug__fds[fd], UG_FD_UNKNOWN);
	if (e == UG_FD_UNKNOWN || (e & 3)) {
		if ((e & 3) == 2)
			ug__net_closed(fd, e);
		return;
	}
	ug__desc_put((struct ug_desc *)e);
}

void ug__fd_dup(int oldfd, int newfd)
{
	struct ug_desc *d;

	if ((unsigned)newfd >= (unsigned)ug__nfds)
		return;
	if (!may_touch(oldfd) || !may_touch(newfd))
		return;
	ug__fd_closed(newfd);
	d = desc_pin(oldfd);
	if (d) {
		fd_put(newfd, (uintptr_t)d); /* the pin becomes newfd's ref */
		return;
	}
	/* plain stays plain; a socket's sniffer is per fd: dup'ed sockets
	 * are classified again (plain) */
	fd_put(newfd,
	       ug__fd_get(oldfd) == UG_FD_PLAIN ? UG_FD_PLAIN : UG_FD_UNKNOWN);
}

void ug__fd_forget_plain(void)
{
	int fd, top = atomic_load(&ug__fd_hwm);

	for (fd = 0; fd <= top && fd < ug__nfds; fd++) {
		uintptr_t plain = UG_FD_PLAIN;
		atomic_compare_exchange_strong(&ug__fds[fd], &plain,
					       UG_FD_UNKNOWN);
	}
}

/* ---- fork -------------------------------------------------------------------
 * The child has one thread: locks other threads held at fork are re-made,
 * and positions are re-read (the description is now shared). */
void ug__fd_atfork_child(void)
{
	size_t i;

	for (i = 0; i < desc_nall; i++)
		atomic_flag_clear(&desc_all[i]->lock);
}

int64_t ug__desc_pos(struct ug_desc *d, int fd)
{
	struct stat st;

	if (d->oflags & O_APPEND) {
		if (fstat(fd, &st) < 0)
			return -errno;
		return st.st_size;
	}
	if (d->pos_valid && !d->stdio &&
	    d->born_gen ==
		atomic_load_explicit(&ug__fork_gen, memory_order_relaxed))
		return d->pos;
	d->pos = real_lseek64(fd, 0, SEEK_CUR);
	if (d->pos < 0)
		return -errno;
	d->pos_valid = true;
	return d->pos;
}
