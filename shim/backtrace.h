/*
 * Backtraces for events, through libunwind loaded with dlopen(RTLD_LOCAL)
 * so that its _Unwind_* exports never change how the host binds.
 * Warmed up in the constructor.  Taking a trace allocates nothing, never
 * calls dladdr (the loader lock, held across constructors during dlopen)
 * and takes no lock a host thread can hold: modules come from a table of
 * our own, refreshed with dl_iterate_phdr under a trylock.  Thread-safe and
 * async-signal-safe (see backtrace.c for the residual caveats).
 */
#ifndef UG_BACKTRACE_H
#define UG_BACKTRACE_H

#include <stddef.h>
#include <stdint.h>

#define UG_BT_MAX 32

struct ug_frame {
	uintptr_t ip;
	uintptr_t offset;     /* ip minus where the module's first segment is
			       * mapped (dladdr's dli_fbase convention) */
	const char *module;   /* path of the module (static storage) */
	const char *build_id; /* hex, or "" */
	const char *symbol;   /* dynamic symbol name, or NULL */
	uintptr_t symoff;
};

/* Loads and warms up libunwind once (the constructor of a guarded process;
 * later callers find it done). */
void ug__bt_ensure(void);
/* fork handler: a child forked mid-unwind takes no traces. */
void ug__bt_atfork_child(void);
/* Fills up to max frames starting at the first frame outside the shim;
 * returns the count. */
int ug__bt_take(struct ug_frame *f, int max);

#endif /* UG_BACKTRACE_H */
