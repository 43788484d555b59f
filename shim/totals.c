/*
 * Shared per-root totals (see totals.h).  Counters are lock-free atomics in
 * a MAP_SHARED segment; flock on the segment's fd serialises creation and
 * rescans across processes.  Attach runs in the constructor only.
 */
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "guard.h"
#include "table.h"
#include "policy.h"
#include "totals.h"

int64_t ug__now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ug__ctr_reserve(struct ug_ctr *c, int64_t want, uint64_t cap)
{
	int64_t cur, got;

	if (want <= 0)
		return 0;
	if (!c)
		return want; /* nothing counted: everything fits */
	cur = atomic_load_explicit(&c->val, memory_order_relaxed);
	do {
		if (cap == UG_UNLIMITED || cap > INT64_MAX)
			got = want;
		else if (cur >= (int64_t)cap)
			got = 0;
		else
			got = want < (int64_t)cap - cur ? want
							: (int64_t)cap - cur;
		if (got == 0)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(
	    &c->val, &cur, cur + got, memory_order_acq_rel,
	    memory_order_relaxed));
	atomic_fetch_add_explicit(&c->pending, got, memory_order_acq_rel);
	return got;
}

void ug__ctr_resize(struct ug_ctr *c, int64_t delta)
{
	if (!c || !delta)
		return;
	atomic_fetch_add_explicit(&c->val, delta, memory_order_acq_rel);
	atomic_fetch_add_explicit(&c->pending, delta, memory_order_acq_rel);
}

void ug__ctr_done(struct ug_ctr *c, int64_t held, int64_t used)
{
	if (!c)
		return;
	if (used != held)
		atomic_fetch_add_explicit(&c->val, used - held,
					  memory_order_acq_rel);
	if (held)
		atomic_fetch_sub_explicit(&c->pending, held,
					  memory_order_acq_rel);
}

void ug__ctr_add(struct ug_ctr *c, int64_t delta)
{
	if (c && delta)
		atomic_fetch_add_explicit(&c->val, delta, memory_order_acq_rel);
}

static uint64_t digest_key(const char *d)
{
	uint64_t k = 0;
	int i;

	for (i = 0; i < 16 && d[i]; i++) {
		char c = d[i];
		k = (k << 4) | (uint64_t)(c >= 'a' ? c - 'a' + 10 : c - '0');
	}
	return k ? k : 1;
}

struct ug_ctr *ug__totals_session(struct ug_totals *t, const char *digest)
{
	uint64_t key, cur;
	unsigned i, n;

	if (!digest || !digest[0])
		return NULL;
	key = digest_key(digest);
	for (n = 0, i = (unsigned)(key % UG_SESS_SLOTS); n < UG_SESS_SLOTS;
	     n++, i = (i + 1) % UG_SESS_SLOTS) {
		cur =
		    atomic_load_explicit(&t->sess[i].key, memory_order_acquire);
		if (cur == key)
			return &t->sess[i].bytes;
		if (cur == 0) {
			if (atomic_compare_exchange_strong(&t->sess[i].key,
							   &cur, key) ||
			    cur == key)
				return &t->sess[i].bytes;
		}
	}
	return NULL;
}

/* ---- subtree scan ----------------------------------------------------------
 * nftw keeps no state of ours, so the sums live in thread-locals.  Hard links
 * count once: inodes with st_nlink > 1 go through a small set.
 */
struct ug_seen {
	dev_t dev;
	ino_t ino;
	UT_hash_handle hh;
};

static UG_TLS int64_t scan_bytes, scan_files;
static UG_TLS struct ug_seen *scan_seen;
static UG_TLS const struct ug_rootrt *scan_rt; /* set: sum per session */
static UG_TLS int64_t *scan_sess;	       /* [UG_SESS_SLOTS] */
UG_TLS int ug__table_oom;

static int scan_one(const char *p, const struct stat *st, int type,
		    struct FTW *ftw)
{
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (st->st_nlink > 1) {
		struct ug_seen key = {.dev = st->st_dev, .ino = st->st_ino};
		struct ug_seen *s;

		HASH_FIND(hh, scan_seen, &key.dev,
			  sizeof(dev_t) + sizeof(ino_t), s);
		if (s)
			return 0;
		s = calloc(1, sizeof(*s));
		if (s) {
			*s = key;
			HASH_ADD(hh, scan_seen, dev,
				 sizeof(dev_t) + sizeof(ino_t), s);
		}
	}
	scan_bytes += st->st_size;
	scan_files++;
	if (scan_rt && scan_sess) {
		char owner[17];
		struct ug_ctr *c;

		if (ug__owner_of_path((struct ug_rootrt *)scan_rt, p, owner) &&
		    (c = ug__totals_session(scan_rt->tot, owner)))
			scan_sess[(struct ug_sess_slot
				       *)((char *)c -
					  offsetof(struct ug_sess_slot,
						   bytes)) -
				  scan_rt->tot->sess] += st->st_size;
	}
	return 0;
}

/* Sums the regular files below path.  Returns 0 or -errno. */
static int scan_tree(const char *path, int64_t *bytes, int64_t *files)
{
	struct ug_seen *s, *tmp;
	int rc;

	scan_bytes = scan_files = 0;
	scan_seen = NULL;
	rc = nftw(path, scan_one, 32, FTW_PHYS | FTW_MOUNT);
	HASH_ITER(hh, scan_seen, s, tmp)
	{
		HASH_DEL(scan_seen, s);
		free(s);
	}
	*bytes = scan_bytes;
	*files = scan_files;
	return rc == 0 ? 0 : -ENOENT;
}

int ug__measure_tree(const char *path, int64_t *bytes, int64_t *files)
{
	return scan_tree(path, bytes, files);
}

/* A counter's state when a scan starts. */
struct snap {
	int64_t val, pending;
};

static struct snap snap_of(struct ug_ctr *c)
{
	struct snap sn = {atomic_load(&c->val), atomic_load(&c->pending)};

	return sn;
}

/* Sets a counter to what the scan measured, plus the reservations in
 * flight when it started (their bytes may not have been on disk yet), plus
 * every change made while it ran.  Transiently high, never low.  When
 * names moved or vanished during the scan (it may have missed or counted
 * them twice), it only raises the counter: never below the truth. */
static void settle(struct ug_ctr *c, struct snap before, int64_t measured,
		   bool raise_only)
{
	int64_t cur = atomic_load(&c->val), want;

	do {
		want = measured + before.pending + (cur - before.val);
		if (raise_only && want < cur)
			return;
	} while (!atomic_compare_exchange_weak(&c->val, &cur, want));
}

void ug__totals_changed(struct ug_rootrt *rt)
{
	if (ug__totals_counted(rt))
		atomic_fetch_add_explicit(&rt->tot->changes, 1,
					  memory_order_acq_rel);
}

static void measure(struct ug_rootrt *rt)
{
	struct ug_totals *t = rt->tot;
	uint64_t c0 = atomic_load(&t->changes);
	struct snap b0 = snap_of(&t->bytes), f0 = snap_of(&t->files);
	struct snap *s0 = NULL;
	int64_t bytes = 0, files = 0, *sm = NULL;
	bool moved;
	int i;

	if (rt->cfg->max_session != UG_UNLIMITED) {
		s0 = calloc(UG_SESS_SLOTS, sizeof(*s0));
		sm = calloc(UG_SESS_SLOTS, sizeof(*sm));
		for (i = 0; s0 && i < UG_SESS_SLOTS; i++)
			s0[i] = snap_of(&t->sess[i].bytes);
		scan_rt = rt;
		scan_sess = s0 && sm ? sm : NULL;
	}
	if (scan_tree(rt->real, &bytes, &files) < 0)
		bytes = files = 0; /* root missing: empty */
	scan_rt = NULL;
	scan_sess = NULL;
	moved = atomic_load(&t->changes) != c0;
	settle(&t->bytes, b0, bytes, moved);
	settle(&t->files, f0, files, moved);
	if (s0 && sm)
		for (i = 0; i < UG_SESS_SLOTS; i++)
			settle(&t->sess[i].bytes, s0[i], sm[i], moved);
	free(s0);
	free(sm);
	atomic_store(&t->scanned_ns, ug__now_ns(CLOCK_BOOTTIME));
	atomic_fetch_add(&t->scans, 1);
}

bool ug__totals_rescan(struct ug_rootrt *rt, int64_t min_age_ns)
{
	struct ug_totals *t = rt->tot;

	if (!ug__totals_counted(rt))
		return false;
	int64_t now = ug__now_ns(CLOCK_BOOTTIME);
	uint64_t scans = atomic_load(&t->scans);
	bool ran = false;

	if (now - atomic_load(&t->scanned_ns) < min_age_ns)
		return false;
	if (rt->shm_fd >= 0 && real_flock(rt->shm_fd, LOCK_EX) < 0)
		return false;
	/* Another process may have rescanned while we waited for the lock. */
	if (atomic_load(&t->scans) == scans) {
		measure(rt);
		ran = true;
	} else {
		ran = true;
	}
	if (rt->shm_fd >= 0)
		real_flock(rt->shm_fd, LOCK_UN);
	return ran;
}

void ug__totals_refresh(struct ug_rootrt *rt, int64_t min_age_ns)
{
	struct ug_totals *t = rt->tot;

	if (!ug__totals_counted(rt))
		return;
	if (ug__now_ns(CLOCK_BOOTTIME) - atomic_load(&t->scanned_ns) <
	    min_age_ns)
		return;
	if (rt->shm_fd >= 0 && real_flock(rt->shm_fd, LOCK_EX | LOCK_NB) < 0)
		return;
	measure(rt);
	if (rt->shm_fd >= 0)
		real_flock(rt->shm_fd, LOCK_UN);
}

/* ---- attach
 * ------------------------------------------------------------------ */

static void shm_name(const struct ug_rootrt *rt, char *out, size_t outsz)
{
	struct ug_sha256 h;
	unsigned char d[32];
	static const char hx[] = "0123456789abcdef";
	size_t n = 0, i;
	uint64_t ids[2] = {(uint64_t)rt->dev, (uint64_t)rt->ino};

	ug__sha256_init(&h);
	ug__sha256_update(&h, rt->real, rt->reallen);
	ug__sha256_update(&h, ids, sizeof(ids));
	ug__sha256_final(&h, d);
	n = (size_t)snprintf(out, outsz, "/dev/shm/uploadguard-");
	for (i = 0; i < 10 && n + 2 < outsz; i++) {
		out[n++] = hx[d[i] >> 4];
		out[n++] = hx[d[i] & 15];
	}
	out[n] = '\0';
}

static int attach_private(struct ug_rootrt *rt)
{
	struct ug_totals *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->magic = UG_TOTALS_MAGIC;
	t->version = UG_TOTALS_VERSION;
	t->size = sizeof(*t);
	rt->tot = t;
	rt->shm_fd = -1;
	measure(rt);
	return 0;
}

static bool valid_segment(int fd, const struct ug_rootrt *rt, uid_t owner)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(struct ug_totals))
		return false;
	if (st.st_mode & 077)
		return false;
	return st.st_uid == 0 || st.st_uid == geteuid() || st.st_uid == owner;
}

/* A segment of our making (trusted owner, private mode) whose size is not
 * this version's: a leftover of an older uploadguard, not one being made. */
static bool stale_layout(int fd, uid_t owner)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077))
		return false;
	if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != owner)
		return false;
	return st.st_size != 0 && st.st_size != (off_t)sizeof(struct ug_totals);
}

/* Takes the shared lock once the creator has sized the segment: between
 * its O_EXCL create and its exclusive lock there is a moment when the file
 * is empty.  Gives up after about a second (a creator that died). */
static int wait_created(int fd)
{
	struct timespec ms = {0, 1000000};
	struct stat st;
	int i;

	for (i = 0; i < 1000; i++) {
		if (real_flock(fd, LOCK_SH) < 0)
			return -1;
		if (fstat(fd, &st) < 0 || st.st_size != 0)
			return 0; /* sized (valid_segment judges it): LOCK_SH */
		real_flock(fd, LOCK_UN);
		nanosleep(&ms, NULL);
	}
	return -1;
}

bool ug__totals_counted(const struct ug_rootrt *rt)
{
	const struct ug_root *r = rt->cfg;

	return r->max_total != UG_UNLIMITED || r->max_files != UG_UNLIMITED ||
	       r->max_session != UG_UNLIMITED;
}

/* Roots with no total to keep share one counter block nobody reads. */
static struct ug_totals uncounted;

int ug__totals_attach(struct ug_rootrt *rt, char *err, size_t errlen)
{
	char name[64];
	struct ug_totals *t;
	struct stat rst;
	uid_t owner = (uid_t)-1;
	bool creator = false, retried = false;
	int fd;

	err[0] = '\0';
	if (!ug__totals_counted(rt)) {
		rt->tot = &uncounted;
		rt->shm_fd = -1;
		return 0;
	}
	if (stat(rt->real, &rst) == 0)
		owner = rst.st_uid;
	shm_name(rt, name, sizeof(name));
again:
	fd = real_openat(AT_FDCWD, name,
			 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 0600);
	if (fd >= 0) {
		creator = true;
		if (real_flock(fd, LOCK_EX) < 0 ||
		    real_ftruncate(fd, sizeof(*t)) < 0)
			goto out_private;
		/* Let the root's owner (a server's worker user) map it too. */
		if (geteuid() == 0 && owner != (uid_t)-1 && owner != 0 &&
		    fchown(fd, owner, (gid_t)-1) < 0)
			goto out_private;
	} else if (errno == EEXIST) {
		fd = real_openat(AT_FDCWD, name,
				 O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && !retried && stale_layout(fd, owner)) {
			/* left by an older uploadguard: ours to replace */
			real_close(fd);
			real_unlink(name);
			retried = true;
			goto again;
		}
		if (fd < 0 || wait_created(fd) < 0 ||
		    !valid_segment(fd, rt, owner)) {
			snprintf(err, errlen,
				 "%s is not ours (owner, mode or size): totals "
				 "for %s are per process",
				 name, rt->real);
			goto out_private;
		}
	} else {
		snprintf(err, errlen,
			 "cannot create %s (%s): totals for %s are "
			 "per process",
			 name, strerror(errno), rt->real);
		return attach_private(rt);
	}
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (t == MAP_FAILED)
		goto out_private;
	rt->tot = t;
	rt->shm_fd = fd;
	if (creator || t->magic != UG_TOTALS_MAGIC) {
		if (!creator) { /* a creator died half-way: take over */
			real_flock(fd, LOCK_UN);
			real_flock(fd, LOCK_EX);
		}
		if (t->magic != UG_TOTALS_MAGIC) {
			memset(t, 0, sizeof(*t));
			t->version = UG_TOTALS_VERSION;
			t->size = sizeof(*t);
			t->dev = rt->dev;
			t->ino = rt->ino;
			snprintf(t->root, sizeof(t->root), "%s", rt->real);
			measure(rt);
			atomic_thread_fence(memory_order_release);
			t->magic = UG_TOTALS_MAGIC;
		}
	} else if (t->version != UG_TOTALS_VERSION || t->size != sizeof(*t)) {
		munmap(t, sizeof(*t));
		snprintf(err, errlen,
			 "%s has another layout: totals for %s are "
			 "per process",
			 name, rt->real);
		goto out_private;
	}
	real_flock(fd, LOCK_UN);
	if (!creator)
		ug__totals_refresh(rt, UG_REFRESH_NS);
	return 0;

out_private:
	if (fd >= 0) {
		if (creator)
			real_unlink(name);
		real_close(fd);
	}
	rt->tot = NULL;
	return attach_private(rt);
}
