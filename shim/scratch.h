/*
 * Big temporary buffers off the stack: host threads may run on 16 KiB
 * stacks, and paths are up to PATH_MAX.  A lock-free pool of blocks in
 * .bss (untouched blocks cost no memory), mmap'd beyond it.
 * Thread-safe and async-signal-safe.
 */
#ifndef UG_SCRATCH_H
#define UG_SCRATCH_H

#include <limits.h>

#define UG_SCRATCH (4 * PATH_MAX) /* one block: four paths */

/* A block of UG_SCRATCH bytes, or NULL when memory is out. */
char *ug__scratch_get(void);
void ug__scratch_put(char *p);

#endif /* UG_SCRATCH_H */
