/*
 * Lexical path helpers (see path.h).  Pure and async-signal-safe.
 */
#include <errno.h>
#include <string.h>

#include "path.h"

int ug__path_normalize(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	const char *p = in;

	if (!in || in[0] != '/')
		return -EINVAL;
	if (outsz < 2)
		return -ENAMETOOLONG;
	out[o++] = '/';
	while (*p) {
		const char *seg;
		size_t len;

		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - seg);
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			/* back up to the previous '/' (never above the root) */
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--;
			continue;
		}
		if (o > 1) {
			if (o + 1 >= outsz)
				return -ENAMETOOLONG;
			out[o++] = '/';
		}
		if (o + len >= outsz)
			return -ENAMETOOLONG;
		memcpy(out + o, seg, len);
		o += len;
	}
	out[o] = '\0';
	return (int)o;
}

int ug__path_join(const char *base, const char *rel, char *out, size_t outsz)
{
	char tmp[8192];
	size_t bl, rl;

	if (!rel)
		return -EINVAL;
	if (rel[0] == '/')
		return ug__path_normalize(rel, out, outsz);
	bl = strlen(base);
	rl = strlen(rel);
	if (bl + rl + 2 > sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, base, bl);
	tmp[bl] = '/';
	memcpy(tmp + bl + 1, rel, rl + 1);
	return ug__path_normalize(tmp, out, outsz);
}

bool ug__path_under(const char *path, const char *root, size_t rootlen)
{
	if (rootlen == 1 && root[0] == '/')
		return path[0] == '/';
	if (strncmp(path, root, rootlen) != 0)
		return false;
	return path[rootlen] == '\0' || path[rootlen] == '/';
}

size_t ug__path_dirlen(const char *path, size_t len)
{
	while (len > 0 && path[len - 1] != '/')
		len--;
	if (len > 1)
		len--; /* drop the '/' itself unless it is the root */
	return len;
}

int ug__path_owner(const char *pattern, const char *rel, char *out,
		   size_t outsz)
{
	static const char tag[] = "{session}";
	const char *pat, *mark, *r = rel;
	size_t prelen, idlen = 0;
	char stop;

	if (strncmp(pattern, "path:", 5) != 0)
		return -1;
	pat = pattern + 5;
	mark = strstr(pat, tag);
	if (!mark)
		return -1;
	prelen = (size_t)(mark - pat);
	if (strncmp(r, pat, prelen) != 0)
		return -1;
	r += prelen;
	stop = mark[sizeof(tag) - 1]; /* literal after {session}, or NUL */
	while (r[idlen] && r[idlen] != '/' && r[idlen] != stop)
		idlen++;
	if (idlen == 0 || idlen + 1 > outsz)
		return -1;
	if (stop && r[idlen] != stop)
		return -1;
	memcpy(out, r, idlen);
	out[idlen] = '\0';
	return (int)idlen;
}
