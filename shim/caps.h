/*
 * Cap arithmetic, the kernel's RLIMIT_FSIZE shape: a write that would cross
 * a cap writes what fits.  Pure code; async-signal-safe.
 */
#ifndef UG_CAPS_H
#define UG_CAPS_H

#include <stdint.h>

enum ug_rule {
	UG_RULE_NONE = 0,
	UG_RULE_MAX_FILE,
	UG_RULE_MAX_TOTAL,
	UG_RULE_MAX_FILES,
	UG_RULE_MAX_SESSION,
};

const char *ug__rule_name(enum ug_rule r);
int ug__rule_errno(enum ug_rule r); /* EFBIG for max_file, else EDQUOT */

/* Saturating addition. */
static inline uint64_t ug__add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Bytes of a write of n at pos that stay at or below max_file. */
static inline uint64_t ug__cap_file(uint64_t pos, uint64_t n, uint64_t max_file)
{
	if (pos >= max_file)
		return 0;
	return n < max_file - pos ? n : max_file - pos;
}

/* How far a write of n bytes at pos grows a file of the given size. */
static inline uint64_t ug__cap_growth(uint64_t pos, uint64_t n, uint64_t size)
{
	uint64_t end = ug__add_sat(pos, n);

	return end > size ? end - size : 0;
}

/* Bytes of a write of n at pos that fit when the file (of the given size)
 * may grow by at most room bytes. */
static inline uint64_t ug__cap_room(uint64_t pos, uint64_t n, uint64_t size,
				    uint64_t room)
{
	uint64_t limit = ug__add_sat(size, room); /* the end we may reach */

	if (ug__cap_growth(pos, n, size) <= room)
		return n;
	return pos >= limit ? 0 : limit - pos;
}

#endif /* UG_CAPS_H */
