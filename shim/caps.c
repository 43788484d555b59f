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
