/*
 * Backtraces for events, through libunwind loaded with dlopen(RTLD_LOCAL)
 * so that its _Unwind_* exports never change how the host binds.
 * Warmed up in the constructor; afterwards taking a trace allocates nothing
 * and takes no lock of ours (libunwind itself walks dl_iterate_phdr).
 */
#ifndef UG_BACKTRACE_H
#define UG_BACKTRACE_H

#include <stddef.h>
#include <stdint.h>

#define UG_BT_MAX 32

struct ug_frame {
	uintptr_t ip;
	uintptr_t offset;     /* ip relative to the module's load base */
	const char *module;   /* path of the module (static storage) */
	const char *build_id; /* hex, or "" */
	const char *symbol;   /* dynamic symbol name, or NULL */
	uintptr_t symoff;
};

void ug__bt_init(void);
/* Fills up to max frames starting at the caller's caller; returns count. */
int ug__bt_take(struct ug_frame *f, int max);

#endif /* UG_BACKTRACE_H */
