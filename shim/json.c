/*
 * JSON object writer (see json.h).  Pure; async-signal-safe.
 */
#include <string.h>

#include "json.h"

/* Room kept for ",\"truncated\":true}\n"; each open container reserves
 * one more byte for its closer, so closing never fails. */
#define UG_JSON_TAIL 24
#define UG_JSON_MAXDEPTH 60

static const char hexd[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	unsigned cp;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = c & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t ug__json_escape(char *out, size_t outsz, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0, i = 0;
	char tmp[8];

#define PUT(p, l)                                                              \
	do {                                                                   \
		if (o + (l) <= outsz)                                          \
			memcpy(out + o, (p), (l));                             \
		o += (l);                                                      \
	} while (0)
	while (i < n) {
		unsigned c = s[i];
		size_t ul;

		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			PUT(tmp, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			const char *esc = c == '\n'   ? "\\n"
					  : c == '\t' ? "\\t"
					  : c == '\r' ? "\\r"
						      : NULL;
			if (esc) {
				PUT(esc, 2);
			} else {
				memcpy(tmp, "\\u00", 4);
				tmp[4] = hexd[c >> 4];
				tmp[5] = hexd[c & 15];
				PUT(tmp, 6);
			}
			i++;
		} else if (c < 0x80) {
			tmp[0] = (char)c;
			PUT(tmp, 1);
			i++;
		} else if ((ul = utf8_len(s + i, n - i)) != 0) {
			PUT(s + i, ul);
			i += ul;
		} else {
			memcpy(tmp, "\\udc", 4);
			tmp[4] = hexd[c >> 4];
			tmp[5] = hexd[c & 15];
			PUT(tmp, 6);
			i++;
		}
	}
#undef PUT
	return o;
}

void ug__json_init(struct ug_json *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap > UG_JSON_TAIL ? cap - UG_JSON_TAIL : 0;
	j->len = 0;
	j->depth = 0;
	j->first = true;
	j->trunc = false;
	j->kinds = 0;
	if (j->cap)
		j->buf[j->len++] = '{';
}

/* Appends raw bytes; false (and nothing written) when they do not fit. */
static bool put(struct ug_json *j, const char *p, size_t n)
{
	if (j->len + n > j->cap)
		return false;
	memcpy(j->buf + j->len, p, n);
	j->len += n;
	return true;
}

static bool put_str(struct ug_json *j, const char *s, size_t n)
{
	size_t need;

	if (!put(j, "\"", 1))
		return false;
	need = ug__json_escape(j->buf + j->len, j->cap - j->len, s, n);
	if (j->len + need + 1 > j->cap)
		return false;
	j->len += need;
	return put(j, "\"", 1);
}

/* Starts a member: separator and key.  Returns the rollback mark. */
static size_t member(struct ug_json *j, const char *key, bool *ok)
{
	size_t mark = j->len;

	*ok = j->cap != 0;
	if (*ok && !j->first)
		*ok = put(j, ",", 1);
	if (*ok && key) {
		*ok = put_str(j, key, strlen(key)) && put(j, ":", 1);
	}
	return mark;
}

static void done(struct ug_json *j, size_t mark, bool ok)
{
	if (ok) {
		j->first = false;
	} else {
		j->len = mark;
		j->trunc = true;
	}
}

void ug__json_strn(struct ug_json *j, const char *key, const char *s, size_t n)
{
	bool ok;
	size_t mark = member(j, key, &ok);

	done(j, mark, ok && put_str(j, s, n));
}

void ug__json_str(struct ug_json *j, const char *key, const char *s)
{
	if (!s) {
		ug__json_null(j, key);
		return;
	}
	ug__json_strn(j, key, s, strlen(s));
}

static size_t fmt_u64(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void ug__json_u64(struct ug_json *j, const char *key, uint64_t v)
{
	char num[24];
	bool ok;
	size_t mark = member(j, key, &ok);

	done(j, mark, ok && put(j, num, fmt_u64(num, v)));
}

void ug__json_i64(struct ug_json *j, const char *key, int64_t v)
{
	char num[24];
	size_t n = 0;
	bool ok;
	size_t mark = member(j, key, &ok);

	if (v < 0) {
		num[n++] = '-';
		n += fmt_u64(num + 1, (uint64_t)0 - (uint64_t)v);
	} else {
		n = fmt_u64(num, (uint64_t)v);
	}
	done(j, mark, ok && put(j, num, n));
}

void ug__json_hex(struct ug_json *j, const char *key, uint64_t v)
{
	char num[24];
	size_t n = 0;
	int shift;
	bool ok;
	size_t mark = member(j, key, &ok);

	num[n++] = '"';
	num[n++] = '0';
	num[n++] = 'x';
	for (shift = 60; shift > 0 && !((v >> shift) & 15); shift -= 4)
		;
	for (; shift >= 0; shift -= 4)
		num[n++] = hexd[(v >> shift) & 15];
	num[n++] = '"';
	done(j, mark, ok && put(j, num, n));
}

void ug__json_bool(struct ug_json *j, const char *key, bool v)
{
	bool ok;
	size_t mark = member(j, key, &ok);

	done(j, mark, ok && (v ? put(j, "true", 4) : put(j, "false", 5)));
}

void ug__json_null(struct ug_json *j, const char *key)
{
	bool ok;
	size_t mark = member(j, key, &ok);

	done(j, mark, ok && put(j, "null", 4));
}

static bool open_container(struct ug_json *j, const char *key, char c)
{
	bool ok;
	size_t mark = member(j, key, &ok);

	ok = ok && j->depth < UG_JSON_MAXDEPTH && j->len + 2 <= j->cap &&
	     put(j, &c, 1);
	done(j, mark, ok);
	if (ok) {
		if (c == '[')
			j->kinds |= 1ULL << j->depth;
		else
			j->kinds &= ~(1ULL << j->depth);
		j->depth++;
		j->cap--; /* the closer's byte */
		j->first = true;
	}
	return ok;
}

bool ug__json_obj_begin(struct ug_json *j, const char *key)
{
	return open_container(j, key, '{');
}

bool ug__json_arr_begin(struct ug_json *j, const char *key)
{
	return open_container(j, key, '[');
}

void ug__json_end(struct ug_json *j, char close)
{
	if (j->depth <= 0)
		return; /* unbalanced call: keep the line valid */
	j->depth--;
	j->cap++; /* the byte reserved when it was opened */
	/* the closer matches what was opened, whatever the caller says */
	(void)close;
	j->buf[j->len++] = (j->kinds >> j->depth) & 1 ? ']' : '}';
	j->first = false;
}

size_t ug__json_finish(struct ug_json *j)
{
	static const char tr[] = ",\"truncated\":true";

	if (!j->cap)
		return 0;
	while (j->depth > 0) /* a caller that gave up mid-container */
		ug__json_end(j, 0);
	if (j->trunc) { /* no comma when nothing fitted before it */
		size_t skip = j->first ? 1 : 0;
		memcpy(j->buf + j->len, tr + skip, sizeof(tr) - 1 - skip);
		j->len += sizeof(tr) - 1 - skip;
	}
	j->buf[j->len++] = '}';
	j->buf[j->len++] = '\n';
	return j->len;
}
