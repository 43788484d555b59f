/*
 * The real_* table: libc's own functions, resolved once with
 * dlsym(RTLD_NEXT) before the first hooked call is forwarded.
 * Thread-safe; a hook called before the constructor (another library's
 * constructor calling write) reaches a generated stub that resolves the
 * table, so no wrapper tests a pointer on its fast path.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "guard.h"

/* One stub per forwardable hook: the first call resolves this one symbol
 * (an inert process, one `only` excludes, resolves just what it uses),
 * then calls through; a guarded process resolves the whole table in its
 * constructor, before its stubs matter. */
#define UG_HOOKV(ret, name, params, fam)
#define UG_HOOK(ret, name, params, args, fam)                                  \
	static ret stub_##name params;                                         \
	ret(*real_##name) params = stub_##name;                                \
	static ret stub_##name params                                          \
	{                                                                      \
		ug__resolve_one((void **)&real_##name, #name,                  \
				(void *)stub_##name);                          \
		if (real_##name == stub_##name) {                              \
			errno = ENOSYS;                                        \
			return (ret)-1;                                        \
		}                                                              \
		return real_##name args;                                       \
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wint-to-pointer-cast"
#include "hooks.def"
#pragma GCC diagnostic pop

/* Variadic and void hooks start NULL; their wrappers call the resolver. */
#define UG_HOOK(ret, name, params, args, fam)
#define UG_HOOKV(ret, name, params, fam) ret(*real_##name) params;
#include "hooks.def"

void ug__resolve_one(void **slot, const char *name, void *unresolved)
{
	void *p;

	if (atomic_load_explicit((_Atomic(void *) *)slot,
				 memory_order_acquire) != unresolved)
		return;
	p = dlsym(RTLD_NEXT, name);
	if (p)
		atomic_store_explicit((_Atomic(void *) *)slot, p,
				      memory_order_release);
}

struct ug_sym {
	const char *name;
	void **slot;
	void *stub; /* the slot's value before resolution */
};

static const struct ug_sym ug_syms[] = {
#define UG_HOOK(ret, name, params, args, fam)                                  \
	{#name, (void **)&real_##name, (void *)stub_##name},
#define UG_HOOKV(ret, name, params, fam) {#name, (void **)&real_##name, NULL},
#include "hooks.def"
};

/* 0: not resolved, 1: resolving, 2: done.  A thread that finds 1 (its own
 * recursion through dlsym's allocator, or a racing thread) resolves the
 * symbol it needs on its own instead of waiting. */
static atomic_int ug_resolved;

int ug__resolve_real(void)
{
	int expect = 0;
	size_t i;

	if (atomic_load_explicit(&ug_resolved, memory_order_acquire) == 2)
		return 0;
	if (!atomic_compare_exchange_strong(&ug_resolved, &expect, 1)) {
		/* Someone is resolving: fill in what is still missing here. */
		for (i = 0; i < sizeof(ug_syms) / sizeof(ug_syms[0]); i++) {
			void *p;
			if (*ug_syms[i].slot != ug_syms[i].stub)
				continue;
			p = dlsym(RTLD_NEXT, ug_syms[i].name);
			if (p)
				*ug_syms[i].slot = p;
		}
		return 0;
	}
	for (i = 0; i < sizeof(ug_syms) / sizeof(ug_syms[0]); i++) {
		void *p = dlsym(RTLD_NEXT, ug_syms[i].name);
		if (p)
			atomic_store_explicit(
			    (_Atomic(void *) *)ug_syms[i].slot, p,
			    memory_order_release);
	}
	atomic_store_explicit(&ug_resolved, 2, memory_order_release);
	return 0;
}
