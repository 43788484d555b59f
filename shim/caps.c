/*
 * Cap arithmetic (see caps.h).  Pure; async-signal-safe.
 */
#include <errno.h>

#include "caps.h"

const char *ug__rule_name(enum ug_rule r)
{
	switch (r) {
	case UG_RULE_MAX_FILE:
		return "max_file";
	case UG_RULE_MAX_TOTAL:
		return "max_total";
	case UG_RULE_MAX_FILES:
		return "max_files";
	case UG_RULE_MAX_SESSION:
		return "max_session";
	default:
		return "none";
	}
}

int ug__rule_errno(enum ug_rule r)
{
	return r == UG_RULE_MAX_FILE ? EFBIG : EDQUOT;
}

uint64_t ug__cap_file(uint64_t pos, uint64_t n, uint64_t max_file)
{
	if (pos >= max_file)
		return 0;
	return n < max_file - pos ? n : max_file - pos;
}

uint64_t ug__cap_growth(uint64_t pos, uint64_t n, uint64_t size)
{
	uint64_t end = ug__add_sat(pos, n);

	return end > size ? end - size : 0;
}

uint64_t ug__cap_room(uint64_t pos, uint64_t n, uint64_t size, uint64_t room)
{
	uint64_t limit = ug__add_sat(size, room); /* the end we may reach */

	if (ug__cap_growth(pos, n, size) <= room)
		return n;
	return pos >= limit ? 0 : limit - pos;
}
