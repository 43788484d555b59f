/*
 * Scratch blocks (see scratch.h).  Slots are claimed with atomic_flag;
 * the mmap fallback keeps a burst of nested or concurrent users working.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "scratch.h"

#define UG_SCRATCH_SLOTS 16

static char slots[UG_SCRATCH_SLOTS][UG_SCRATCH] __attribute__((aligned(64)));
static atomic_flag busy[UG_SCRATCH_SLOTS];

char *ug__scratch_get(void)
{
	void *p;
	int i;

	for (i = 0; i < UG_SCRATCH_SLOTS; i++)
		if (!atomic_flag_test_and_set_explicit(&busy[i],
						       memory_order_acquire))
			return slots[i];
	p = mmap(NULL, UG_SCRATCH, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void ug__scratch_put(char *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)slots;

	if (!p)
		return;
	if ((uintptr_t)p >= (uintptr_t)slots && off < sizeof(slots))
		atomic_flag_clear_explicit(&busy[off / UG_SCRATCH],
					   memory_order_release);
	else
		munmap(p, UG_SCRATCH);
}
