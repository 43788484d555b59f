/* libFuzzer: ug__path_normalize / ug__path_join / ug__path_under /
 * ug__path_owner.  Input: three NUL-separated strings (path, rel, pattern).
 * Checks: a normalised path is absolute, has no "//", no "/./", no "/../",
 * no trailing '/', and normalising it again changes nothing. */
#include <stdint.h>
#include <string.h>
#include "path.h"

static void check_norm(const char *p, int n)
{
	if (n < 0)
		return;
	if (p[0] != '/' || (int)strlen(p) != n || strstr(p, "//") ||
	    strstr(p, "/./") || strstr(p, "/../") ||
	    (n > 1 && p[n - 1] == '/') ||
	    (n >= 2 && strcmp(p + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(p + n - 3, "/..") == 0))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[8192], a[4096], b[4096], c[256];
	const char *s[3] = {"", "", ""};
	size_t k = 0, i, start = 0;
	int n, m;

	if (size >= sizeof(buf))
		size = sizeof(buf) - 1;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i <= size && k < 3; i++)
		if (buf[i] == '\0') {
			s[k++] = buf + start;
			start = i + 1;
		}
	n = ug__path_normalize(s[0], a, sizeof(a));
	check_norm(a, n);
	if (n >= 0) {
		m = ug__path_normalize(a, b, sizeof(b));
		if (m != n || strcmp(a, b) != 0)
			__builtin_trap();
		m = ug__path_join(a, s[1], b, sizeof(b));
		check_norm(b, m);
		if (m >= 0 && s[1][0] != '/' && !strstr(s[1], "..") &&
		    !ug__path_under(b, a, (size_t)n))
			__builtin_trap(); /* a join without ".." stays below */
		ug__path_dirlen(a, (size_t)n);
		if (ug__path_under(b, "/", 1) != (m >= 0 ? 1 : ug__path_under(b, "/", 1)))
			__builtin_trap();
	}
	m = ug__path_owner(s[2], s[1], c, sizeof(c));
	if (m >= 0 && (size_t)m != strlen(c))
		__builtin_trap();
	ug__path_owner(s[2], s[1], c, 1); /* tiny output */
	return 0;
}
