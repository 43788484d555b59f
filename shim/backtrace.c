/*
 * Backtraces (see backtrace.h).  libunwind is dlopen'ed RTLD_LOCAL in the
 * constructor; when it is missing, frames come from the frame-pointer-free
 * glibc backtrace() instead.  Module build-ids are read from the loaded
 * program headers and cached in a fixed table.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
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


struct ug_module {
	uintptr_t base;
	char path[256];
	char build_id[41];
};

#define UG_MODULES 128
static struct ug_module modules[UG_MODULES];
static _Atomic int nmodules;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

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

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				hexify((const unsigned char *)desc, nh->n_descsz,
				       out, outsz);
				return;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
}

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t want = (uintptr_t)arg;
	int i, n = atomic_load(&nmodules);

	if (info->dlpi_addr != want)
		return 0;
	for (i = 0; i < n; i++)
		if (modules[i].base == want)
			return 1;
	if (n == UG_MODULES)
		return 1;
	modules[n].base = want;
	if (info->dlpi_name && info->dlpi_name[0])
		strncpy(modules[n].path, info->dlpi_name,
			sizeof(modules[n].path) - 1);
	else
		memcpy(modules[n].path, ug__st.exe, sizeof(modules[n].path) - 1);
	build_id_of(info, modules[n].build_id, sizeof(modules[n].build_id));
	atomic_store(&nmodules, n + 1);
	return 1;
}

static const struct ug_module *module_at(uintptr_t base)
{
	int i, n = atomic_load(&nmodules);

	for (i = 0; i < n; i++)
		if (modules[i].base == base)
			return &modules[i];
	/* Not cached yet: trylock so a signal handler never waits on us. */
	if (pthread_mutex_trylock(&modules_lock) != 0)
		return NULL;
	dl_iterate_phdr(add_module, (void *)base);
	pthread_mutex_unlock(&modules_lock);
	n = atomic_load(&nmodules);
	for (i = 0; i < n; i++)
		if (modules[i].base == base)
			return &modules[i];
	return NULL;
}

static void fill(struct ug_frame *f, uintptr_t ip)
{
	Dl_info di;
	const struct ug_module *m;

	memset(f, 0, sizeof(*f));
	f->ip = ip;
	f->module = "";
	f->build_id = "";
	/* a return address points after the call: look up ip - 1 */
	if (!dladdr((void *)(ip - 1), &di))
		return;
	m = module_at((uintptr_t)di.dli_fbase);
	if (m) {
		f->module = m->path;
		f->build_id = m->build_id;
	}
	/* dli_fbase is the ELF header's address; for PIE/DSO it is the bias */
	f->offset = ip - (uintptr_t)di.dli_fbase;
	if (di.dli_sname) {
		f->symbol = di.dli_sname;
		f->symoff = ip - (uintptr_t)di.dli_saddr;
	}
}

static uintptr_t own_base;

static bool own_frame(uintptr_t ip)
{
	Dl_info di;

	return dladdr((void *)(ip - 1), &di) &&
	       (uintptr_t)di.dli_fbase == own_base;
}

void ug__bt_init(void)
{
	Dl_info self;

	if (dladdr((void *)ug__bt_init, &self))
		own_base = (uintptr_t)self.dli_fbase;
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
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
	/* Warm up: the first unwind reads and caches unwind tables. */
	ug__bt_take(f, 4);
}

int ug__bt_take(struct ug_frame *f, int max)
{
	uintptr_t ips[UG_BT_MAX + 2];
	int n = 0, i, skip = 1;

	if (max > UG_BT_MAX)
		max = UG_BT_MAX;
	if (unw_getcontext_p) {
		unw_context_t ctx;
		unw_cursor_t cur;

		if (unw_getcontext_p(&ctx) == 0 &&
		    unw_init_local_p(&cur, &ctx) == 0) {
			while (n < max + skip && unw_step_p(&cur) > 0) {
				unw_word_t ip;
				if (unw_get_reg_p(&cur, UNW_REG_IP, &ip) < 0 || !ip)
					break;
				ips[n++] = ip;
			}
		}
		skip = 0; /* the first step already left this frame */
	} else {
		void *buf[UG_BT_MAX + 2];
		n = backtrace(buf, max + 1);
		for (i = 0; i < n; i++)
			ips[i] = (uintptr_t)buf[i];
	}
	/* Drop the shim's own frames: the trace starts in the host. */
	while (skip < n && own_frame(ips[skip]))
		skip++;
	for (i = skip; i < n && i - skip < max; i++)
		fill(&f[i - skip], ips[i]);
	return i - skip;
}
