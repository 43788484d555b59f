/*
 * uthash behind one header: allocation through libc malloc/free, and
 * HASH_NONFATAL_OOM so that running out of memory never calls exit() in the
 * host (the default fatal path does).  Callers check ug__table_oom.
 */
#ifndef UG_TABLE_H
#define UG_TABLE_H

#include <stdlib.h>

extern __thread int ug__table_oom __attribute__((tls_model("initial-exec")));
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (ug__table_oom = 1)
#include <uthash.h>

#endif /* UG_TABLE_H */
