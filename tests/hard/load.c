/*
 * Load: NPROC processes x NTHR threads hammering one guarded subtree with
 * max_total (writes past the total, renames inside the subtree, closes,
 * unlinks) for DURATION seconds, under the preload.  A monitor process
 * walks the tree and sums the apparent sizes (each inode once) as often as
 * it can, with every worker process stopped (one consistent instant).  Checks: no deadlock (bounded by the caller's timeout and our own
 * deadline), the bytes on disk never exceed max_total by more than one write,
 * every violation the workers saw is logged (one event per short or EDQUOT
 * call: the file names are unique so the rate limiter never applies), RSS
 * per worker process does not grow between the middle and the end.
 * Usage: load DIR DURATION NPROC NTHR   (DIR/tot is the guarded root;
 * the shim's config and LD_PRELOAD come from the environment of the caller).
 * Prints one "FIGURES ..." line; exit 0 pass, 1 fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOTAL (1 << 20)
#define CHUNK 4096

struct shared {
	_Atomic long ops, viol, fails;
	_Atomic long rss_mid[64], rss_end[64];
	_Atomic long max_seen, samples;
	_Atomic int stop;
};
static struct shared *sh;
static const char *dir;
static double deadline;
static int proc_id;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *worker(void *arg)
{
	long t = (long)arg, k = 0;
	char buf[CHUNK], a[4096], b[4096];
	memset(buf, 'L', sizeof(buf));

	while (now() < deadline && !atomic_load(&sh->stop)) {
		snprintf(a, sizeof(a), "%s/tot/p%dt%ld.%ld", dir, proc_id, t, k);
		snprintf(b, sizeof(b), "%s/tot/sub/p%dt%ld.%ld.r", dir, proc_id, t, k);
		int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			atomic_fetch_add(&sh->fails, 1);
			continue;
		}
		for (int i = 0; i < 8; i++) {
			ssize_t r = write(fd, buf, CHUNK);
			atomic_fetch_add(&sh->ops, 1);
			if (r == CHUNK)
				continue;
			if ((r >= 0 && r < CHUNK) || (r < 0 && errno == EDQUOT)) {
				atomic_fetch_add(&sh->viol, 1);
				if (r < 0)
					break;
			} else {
				atomic_fetch_add(&sh->fails, 1);
				break;
			}
		}
		if (rename(a, b) == 0) /* inside the subtree: passes */
			atomic_fetch_add(&sh->ops, 1);
		else
			atomic_fetch_add(&sh->fails, 1);
		close(fd);
		if (k % 2 == 0 || (k % 7) == 1)
			unlink(b);
		atomic_fetch_add(&sh->ops, 3);
		k++;
	}
	return NULL;
}

/* Sums apparent sizes below path, each inode once (a rename during the
 * walk must not count a file twice): a small open-addressing set. */
static unsigned long seen[1 << 16];
static long walk(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct stat st;
	char p[4096];
	long sum = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			sum += walk(p);
		} else if (S_ISREG(st.st_mode)) {
			unsigned long h = st.st_ino * 0x9e3779b97f4a7c15UL >> 48;
			while (seen[h] && seen[h] != st.st_ino)
				h = (h + 1) & 0xffff;
			if (seen[h] == st.st_ino)
				continue;
			seen[h] = st.st_ino;
			sum += st.st_size;
		}
	}
	closedir(d);
	return sum;
}

int main(int argc, char **argv)
{
	int dur, nproc, nthr, st, i, bad = 0;
	char sub[4096];
	pid_t pids[64];
	double t0;

	if (argc < 5)
		return 2;
	dir = argv[1];
	dur = atoi(argv[2]);
	nproc = atoi(argv[3]);
	nthr = atoi(argv[4]);
	if (nproc > 64)
		nproc = 64;
	snprintf(sub, sizeof(sub), "%s/tot/sub", dir);
	mkdir(sub, 0755);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	t0 = now();
	deadline = t0 + dur;
	for (i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			pthread_t th[256];
			proc_id = i;
			for (long t = 0; t < nthr && t < 256; t++)
				pthread_create(&th[t], NULL, worker, (void *)t);
			/* RSS after half the run, then at the end */
			while (now() < t0 + dur / 2.0)
				usleep(20000);
			atomic_store(&sh->rss_mid[i], rss_kb());
			for (long t = 0; t < nthr && t < 256; t++)
				pthread_join(th[t], NULL);
			atomic_store(&sh->rss_end[i], rss_kb());
			_exit(0);
		}
	}
	/* Sampling: every worker process is stopped (SIGSTOP, and waited for
	 * with WUNTRACED), the tree is walked, then they continue: the sum is
	 * the bytes on disk at one instant. */
	{
		char root[4096];
		int done[64] = {0}, ndone = 0;
		snprintf(root, sizeof(root), "%s/tot", dir);
		while (ndone < nproc && now() < deadline + 20) {
			usleep(100000);
			for (i = 0; i < nproc; i++)
				if (!done[i])
					kill(pids[i], SIGSTOP);
			for (i = 0; i < nproc; i++) {
				if (done[i])
					continue;
				if (waitpid(pids[i], &st, WUNTRACED) == pids[i] &&
				    !WIFSTOPPED(st)) {
					done[i] = 1;
					ndone++;
					if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
						printf("FAIL: worker process %d: status %d\n", i, st);
						bad++;
					}
				}
			}
			memset(seen, 0, sizeof(seen));
			long sz = walk(root);
			if (sz > sh->max_seen)
				sh->max_seen = sz;
			sh->samples++;
			for (i = 0; i < nproc; i++)
				if (!done[i])
					kill(pids[i], SIGCONT);
		}
		for (i = 0; i < nproc; i++)
			if (!done[i]) {
				printf("FAIL: worker process %d stuck (deadlock?)\n", i);
				kill(pids[i], SIGKILL);
				waitpid(pids[i], &st, 0);
				bad++;
			}
	}
	for (i = 0; i < 0; i++) {
		/* bounded wait: a worker that outlives the deadline by 20 s is
		 * stuck (deadlock) */
		int waited = 0;
		while (waitpid(pids[i], &st, WNOHANG) == 0) {
			if (now() > deadline + 20) {
				printf("FAIL: worker process %d stuck (deadlock?)\n", i);
				kill(pids[i], SIGKILL);
				bad++;
			}
			usleep(20000);
			waited++;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("FAIL: worker process %d: status %d\n", i, st);
			bad++;
		}
	}
	atomic_store(&sh->stop, 1);
	{
		long grow = 0, mid = 0, end = 0;
		for (i = 0; i < nproc; i++) {
			mid += sh->rss_mid[i];
			end += sh->rss_end[i];
			if (sh->rss_end[i] - sh->rss_mid[i] > grow)
				grow = sh->rss_end[i] - sh->rss_mid[i];
		}
		printf("FIGURES processes=%d threads=%d duration_s=%.1f ops=%ld "
		       "violations=%ld other_failures=%ld monitor_samples=%ld "
		       "max_bytes_seen=%ld max_total=%d one_write=%d "
		       "rss_mid_kb=%ld rss_end_kb=%ld max_growth_kb=%ld\n",
		       nproc, nproc * nthr, now() - t0, sh->ops, sh->viol,
		       sh->fails, sh->samples, sh->max_seen, MAX_TOTAL, CHUNK,
		       mid, end, grow);
		if (sh->max_seen > MAX_TOTAL + CHUNK) {
			printf("FAIL: %ld bytes on disk > max_total %d + one write\n",
			       sh->max_seen, MAX_TOTAL);
			bad++;
		}
		if (grow > 1024) {
			printf("FAIL: RSS of a worker grew %ld KiB in the second half\n", grow);
			bad++;
		}
		if (sh->fails) {
			printf("FAIL: %ld calls failed with an unexpected errno\n", sh->fails);
			bad++;
		}
		if (sh->viol == 0) {
			printf("FAIL: no violation: the load never reached max_total\n");
			bad++;
		}
	}
	printf("VIOLATIONS %ld\n", sh->viol);
	return bad ? 1 : 0;
}
