/*
 * Backtraces (see backtrace.h).  libunwind is dlopen'ed RTLD_LOCAL in the
 * constructor; when it is missing, frames come from glibc's backtrace()
 * (libgcc_s, loaded by the warm-up).  Modules, build-ids and dynamic
 * symbols come from a fixed table of ours, never from dladdr.
 * Thread-safe, async-signal-safe.  Residual caveats, outside our control:
 * libunwind and dl_iterate_phdr take the loader's dl_load_write_lock (a
 * recursive lock held only around link-map updates, never across host
 * code), and libunwind's global cache lock, which it takes with every
 * signal blocked.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <sched.h>
#include <string.h>

#include "backtrace.h"
#include "guard.h"

/* The header gives types, constants and the arch-specific symbol names;
 * the code is reached only through dlsym. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#define UG_STR_(x) #x
#define UG_STR(x) UG_STR_(x)

typedef int (*unw_getcontext_fn)(unw_context_t *);
typedef int (*unw_init_local_fn)(unw_cursor_t *, unw_context_t *);
typedef int (*unw_step_fn)(unw_cursor_t *);
typedef int (*unw_get_reg_fn)(unw_cursor_t *, unw_regnum_t, unw_word_t *);

static unw_getcontext_fn unw_getcontext_p;
static unw_init_local_fn unw_init_local_p;
static unw_step_fn unw_step_p;
static unw_get_reg_fn unw_get_reg_p;

/* ---- the module table
 * --------------------------------------------------------- Append-only: an
 * entry is filled, then published by the release store of nmodules; readers
 * scan newest first, so after a dlclose/dlopen reuses an address range the new
 * module wins.  Entries of unloaded modules are marked dead (their symbol
 * pointers would dangle).  Refreshes run under a trylock flag: a thread (or
 * signal handler) that finds it busy goes on with the table as it is.
 */
struct ug_module {
	uintptr_t lo, hi; /* mapped range of the PT_LOAD segments */
	uintptr_t base;	  /* where the first segment's page is mapped */
	uintptr_t bias;	  /* dlpi_addr */
	const ElfW(Sym) * syms;
	const char *strs;
	size_t strsz;
	uint32_t nsyms;
	_Atomic bool dead;
	char path[256];
	char build_id[41];
};

#define UG_MODULES 512
static struct ug_module modules[UG_MODULES];
static _Atomic int nmodules;
static atomic_flag refreshing = ATOMIC_FLAG_INIT;
static _Atomic unsigned long long seen_adds, seen_subs;
static const struct ug_module *own;

static void hexify(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < outsz; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * i] = '\0';
}

static void build_id_of(const struct dl_phdr_info *info, char *out,
			size_t outsz)
{
	int i;

	out[0] = '\0';
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*nh);
			const char *desc = name + ((nh->n_namesz + 3) & ~3u);

			if (nh->n_type == NT_GNU_BUILD_ID &&
			    nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
				hexify((const unsigned char *)desc,
				       nh->n_descsz, out, outsz);
				return;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
}

/* Number of symbols in a DT_GNU_HASH table: past the highest chain start,
 * walk to the chain's end bit. */
static uint32_t gnu_hash_count(const uint32_t *h)
{
	uint32_t nbuckets = h[0], symoff = h[1], bloom = h[2], i, top = 0;
	const uint32_t *buckets =
	    h + 4 + bloom * (sizeof(ElfW(Addr)) / sizeof(uint32_t));
	const uint32_t *chain = buckets + nbuckets;

	for (i = 0; i < nbuckets; i++)
		if (buckets[i] > top)
			top = buckets[i];
	if (top < symoff)
		return symoff;
	while (!(chain[top - symoff] & 1))
		top++;
	return top + 1;
}

/* A dynamic-section pointer: relocated by ld.so on most targets, a plain
 * vaddr where the section is read-only (the vDSO). */
static uintptr_t dyn_ptr(const struct ug_module *m, uintptr_t v)
{
	return v >= m->lo && v < m->hi ? v : v + m->bias;
}

static void dynsyms_of(const struct dl_phdr_info *info, struct ug_module *m)
{
	const ElfW(Dyn) *d = NULL;
	uintptr_t symtab = 0, strtab = 0, hash = 0, gnuhash = 0, strsz = 0;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			d = (const ElfW(Dyn) *)(info->dlpi_addr +
						info->dlpi_phdr[i].p_vaddr);
	for (; d && d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB:
			symtab = d->d_un.d_ptr;
			break;
		case DT_STRTAB:
			strtab = d->d_un.d_ptr;
			break;
		case DT_STRSZ:
			strsz = d->d_un.d_val;
			break;
		case DT_HASH:
			hash = d->d_un.d_ptr;
			break;
		case DT_GNU_HASH:
			gnuhash = d->d_un.d_ptr;
			break;
		}
	}
	if (!symtab || !strtab || (!hash && !gnuhash))
		return;
	m->syms = (const ElfW(Sym) *)dyn_ptr(m, symtab);
	m->strs = (const char *)dyn_ptr(m, strtab);
	m->strsz = strsz;
	m->nsyms = hash ? ((const uint32_t *)dyn_ptr(m, hash))[1]
			: gnu_hash_count((const uint32_t *)dyn_ptr(m, gnuhash));
}

struct refresh {
	unsigned long long adds, subs;
	int first; /* entries before this refresh */
	bool alive[UG_MODULES];
};

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct refresh *r = arg;
	const char *name = info->dlpi_name && info->dlpi_name[0]
			       ? info->dlpi_name
			       : ug__st.exe;
	uintptr_t lo = UINTPTR_MAX, hi = 0, first = UINTPTR_MAX;
	struct ug_module *m;
	int i, n = atomic_load(&nmodules);

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
			sizeof(info->dlpi_subs)) {
		r->adds = info->dlpi_adds;
		r->subs = info->dlpi_subs;
	}
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (first == UINTPTR_MAX)
			first = a & ~(uintptr_t)4095;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (hi == 0)
		return 0;
	for (i = n - 1; i >= 0; i--) {
		m = &modules[i];
		if (!atomic_load(&m->dead) && m->bias == info->dlpi_addr &&
		    m->lo == lo &&
		    strncmp(m->path, name, sizeof(m->path) - 1) == 0) {
			r->alive[i] = true;
			return 0;
		}
	}
	if (n == UG_MODULES)
		return 0;
	m = &modules[n];
	memset(m, 0, sizeof(*m));
	m->lo = lo;
	m->hi = hi;
	m->base = first;
	m->bias = info->dlpi_addr;
	memcpy(m->path, name, strnlen(name, sizeof(m->path) - 1));
	build_id_of(info, m->build_id, sizeof(m->build_id));
	dynsyms_of(info, m);
	r->alive[n] = true;
	atomic_store_explicit(&nmodules, n + 1, memory_order_release);
	return 0;
}

/* Brings the table up to date when the loader's add/remove counters moved
 * (or force).  Never waits: false when another refresh is running. */
static bool refresh(bool force)
{
	struct refresh r;
	int i, n;

	if (atomic_flag_test_and_set(&refreshing))
		return false;
	memset(&r, 0, sizeof(r));
	r.first = atomic_load(&nmodules);
	dl_iterate_phdr(add_module, &r);
	n = atomic_load(&nmodules);
	if (force || r.subs != atomic_load(&seen_subs))
		for (i = 0; i < r.first && i < n; i++)
			if (!r.alive[i])
				atomic_store(&modules[i].dead, true);
	atomic_store(&seen_adds, r.adds);
	atomic_store(&seen_subs, r.subs);
	atomic_flag_clear(&refreshing);
	return true;
}

static int peek_counts(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
			sizeof(info->dlpi_subs)) {
		c[0] = info->dlpi_adds;
		c[1] = info->dlpi_subs;
	}
	return 1; /* the counters are global: one entry is enough */
}

/* The newest live module holding pc, or NULL. */
static const struct ug_module *module_of(uintptr_t pc)
{
	int i, n = atomic_load_explicit(&nmodules, memory_order_acquire);

	for (i = n - 1; i >= 0; i--) {
		const struct ug_module *m = &modules[i];
		if (pc >= m->lo && pc < m->hi && !atomic_load(&m->dead))
			return m;
	}
	return NULL;
}

/* The dynamic function symbol whose extent holds pc. */
static const char *symbol_of(const struct ug_module *m, uintptr_t pc,
			     uintptr_t *start)
{
	const ElfW(Sym) *best = NULL;
	uint32_t i;

	for (i = 0; m->syms && i < m->nsyms; i++) {
		const ElfW(Sym) *s = &m->syms[i];
		uintptr_t a;
		int t = ELF64_ST_TYPE(s->st_info);

		if ((t != STT_FUNC && t != STT_GNU_IFUNC) ||
		    s->st_shndx == SHN_UNDEF || !s->st_value || !s->st_size)
			continue;
		a = m->bias + s->st_value;
		if (pc >= a && pc < a + s->st_size &&
		    (!best || s->st_value > best->st_value))
			best = s;
	}
	if (!best || (m->strsz && best->st_name >= m->strsz))
		return NULL;
	*start = m->bias + best->st_value;
	return m->strs + best->st_name;
}

static void fill(struct ug_frame *f, uintptr_t ip)
{
	const struct ug_module *m;
	uintptr_t pc = ip - 1, start;

	memset(f, 0, sizeof(*f));
	f->ip = ip;
	f->module = "";
	f->build_id = "";
	/* a return address points after the call: look up ip - 1 */
	m = module_of(pc);
	if (!m)
		return;
	f->module = m->path;
	f->build_id = m->build_id;
	f->offset = ip - m->base;
	f->symbol = symbol_of(m, pc, &start);
	if (f->symbol)
		f->symoff = ip - start;
}

static bool own_frame(uintptr_t ip)
{
	return own && ip - 1 >= own->lo && ip - 1 < own->hi;
}

static void bt_init(void)
{
	/* RTLD_DEEPBIND: libunwind's own calls (it probes memory with
	 * syscall(SYS_write) on a pipe) bind to libc, not to our hooks.
	 * The sanitizer runtimes refuse DEEPBIND. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	int deep = 0;
#else
	int deep = RTLD_DEEPBIND;
#endif
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL | deep);
	struct ug_frame f[4];

	if (h) {
		unw_getcontext_p =
		    (unw_getcontext_fn)dlsym(h, UG_STR(unw_tdep_getcontext));
		unw_init_local_p =
		    (unw_init_local_fn)dlsym(h, UG_STR(unw_init_local));
		unw_step_p = (unw_step_fn)dlsym(h, UG_STR(unw_step));
		unw_get_reg_p = (unw_get_reg_fn)dlsym(h, UG_STR(unw_get_reg));
		if (!unw_getcontext_p || !unw_init_local_p || !unw_step_p ||
		    !unw_get_reg_p)
			unw_getcontext_p = NULL;
	}
	refresh(true);
	own = module_of((uintptr_t)bt_init);
	/* Warm up: the first unwind reads and caches unwind tables, and the
	 * fallback's first backtrace() loads libgcc_s. */
	ug__bt_take(f, 4);
	if (!unw_getcontext_p) {
		void *b[2];
		backtrace(b, 2);
	}
}

/* Unwinding in progress in this process (any thread), and "no more
 * traces": libunwind's locks taken by another thread at fork stay taken in
 * the child, so a child forked mid-unwind (or mid-load) takes no traces. */
static _Atomic int bt_busy;
static atomic_bool bt_off;

/* 0: not loaded, 1: loading, 2: ready.  The first thread loads; an event
 * racing that first load goes without a trace rather than wait (it may be
 * a signal handler that interrupted the loading thread). */
static atomic_int bt_state;
static UG_TLS bool bt_loading; /* this thread runs bt_init */

void ug__bt_atfork_child(void)
{
	if (atomic_load(&bt_busy) > 0) {
		atomic_store(&bt_off, true);
		atomic_store(&bt_busy, 0);
	}
}

int ug__bt_take(struct ug_frame *f, int max)
{
	uintptr_t ips[UG_BT_MAX + 8];
	unsigned long long c[2] = {0, 0};
	int n = 0, i, skip = 0, want;

	if (max > UG_BT_MAX)
		max = UG_BT_MAX;
	if (atomic_load(&bt_off) ||
	    (atomic_load_explicit(&bt_state, memory_order_acquire) != 2 &&
	     !bt_loading))
		return 0;
	want = max + 8; /* room for the shim's own frames */
	if (unw_getcontext_p) {
		unw_context_t ctx;
		unw_cursor_t cur;

		atomic_fetch_add(&bt_busy, 1);
		if (unw_getcontext_p(&ctx) == 0 &&
		    unw_init_local_p(&cur, &ctx) == 0) {
			while (n < want && unw_step_p(&cur) > 0) {
				unw_word_t ip;
				if (unw_get_reg_p(&cur, UNW_REG_IP, &ip) < 0 ||
				    !ip)
					break;
				ips[n++] = ip;
			}
		}
		atomic_fetch_sub(&bt_busy, 1);
	} else {
		void *buf[UG_BT_MAX + 8];
		n = backtrace(buf, want);
		for (i = 0; i < n; i++)
			ips[i] = (uintptr_t)buf[i];
	}
	/* Loaded or unloaded modules since the table was made: refresh. */
	dl_iterate_phdr(peek_counts, c);
	if (c[0] != atomic_load(&seen_adds) || c[1] != atomic_load(&seen_subs))
		refresh(false);
	/* Drop the shim's own frames: the trace starts in the host. */
	while (skip < n && own_frame(ips[skip]))
		skip++;
	for (i = skip; i < n && i - skip < max; i++)
		fill(&f[i - skip], ips[i]);
	return i - skip;
}


void ug__bt_ensure(void)
{
	int expect = 0;

	if (atomic_load_explicit(&bt_state, memory_order_acquire) == 2)
		return;
	if (!atomic_compare_exchange_strong(&bt_state, &expect, 1))
		return;
	atomic_fetch_add(&bt_busy, 1);
	bt_loading = true;
	bt_init();
	bt_loading = false;
	atomic_fetch_sub(&bt_busy, 1);
	atomic_store_explicit(&bt_state, 2, memory_order_release);
}
