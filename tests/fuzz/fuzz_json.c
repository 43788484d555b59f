/* libFuzzer: the JSON writer.  Fuzzer bytes choose the buffer size, keys,
 * string values (any bytes), numbers and nesting; the finished line must be
 * one valid JSON object followed by "\n" (checked by a small validator)
 * and never overrun the buffer (ASan, plus a canary). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "json.h"

/* ---- a tiny strict JSON validator --------------------------------------- */
static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}
static const char *val(const char *p, const char *e, int depth);
static const char *str(const char *p, const char *e)
{
	if (p >= e || *p != '"')
		return NULL;
	for (p++; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= e)
				return NULL;
			if (*p == 'u') {
				for (int i = 0; i < 4; i++)
					if (++p >= e || !strchr("0123456789abcdefABCDEF", *p) || !*p)
						return NULL;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		} else if (c >= 0x80) { /* UTF-8 must be valid */
			int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
			if (n < 0 || c > 0xf4)
				return NULL;
			for (int i = 0; i < n; i++)
				if (++p >= e || ((unsigned char)*p & 0xc0) != 0x80)
					return NULL;
		}
	}
	return NULL;
}
static const char *num(const char *p, const char *e)
{
	const char *s = p;
	if (p < e && *p == '-')
		p++;
	while (p < e && *p >= '0' && *p <= '9')
		p++;
	return p > s && p[-1] != '-' ? p : NULL;
}
static const char *val(const char *p, const char *e, int depth)
{
	p = ws(p, e);
	if (p >= e || depth > 64)
		return NULL;
	if (*p == '"')
		return str(p, e);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';
		p = ws(p + 1, e);
		if (p < e && *p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = str(ws(p, e), e);
				if (!p)
					return NULL;
				p = ws(p, e);
				if (p >= e || *p++ != ':')
					return NULL;
			}
			p = val(p, e, depth + 1);
			if (!p)
				return NULL;
			p = ws(p, e);
			if (p < e && *p == ',') {
				p++;
				continue;
			}
			return p < e && *p == close ? p + 1 : NULL;
		}
	}
	if (e - p >= 4 && !memcmp(p, "true", 4))
		return p + 4;
	if (e - p >= 5 && !memcmp(p, "false", 5))
		return p + 5;
	if (e - p >= 4 && !memcmp(p, "null", 4))
		return p + 4;
	return num(p, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[70000];
	struct ug_json j;
	size_t cap, i = 0, len;
	int open = 0;
	char key[8];

	if (size < 2)
		return 0;
	cap = 25 + ((data[0] | data[1] << 8) % 4096); /* > the writer's 24-byte tail */
	i = 2;
	memset(buf, 0x5a, cap + 64);
	ug__json_init(&j, buf, cap);
	while (i < size) {
		uint8_t op = data[i++];
		size_t n = i < size ? data[i++] % 64 : 0;
		if (n > size - i)
			n = size - i;
		key[0] = 'k';
		key[1] = (char)('a' + op % 26);
		key[2] = '\0';
		switch (op % 8) {
		case 0: ug__json_strn(&j, key, (const char *)data + i, n); i += n; break;
		case 1: ug__json_u64(&j, key, (uint64_t)n * 0x9e3779b97f4a7c15ULL); break;
		case 2: ug__json_i64(&j, key, -(int64_t)n * 1234567891LL); break;
		case 3: ug__json_hex(&j, key, n); break;
		case 4: ug__json_bool(&j, key, n & 1); break;
		case 5: if (open < 10 && ug__json_obj_begin(&j, key)) open++; break;
		case 6: if (open > 0) { ug__json_end(&j, '}'); open--; } else ug__json_null(&j, key); break;
		case 7: { char s[65]; memcpy(s, data + i, n); s[n] = 0; ug__json_str(&j, key, s); i += n; break; }
		}
	}
	while (open-- > 0)
		ug__json_end(&j, '}');
	len = ug__json_finish(&j);
	if (len == 0 || len > cap || buf[len - 1] != '\n')
		__builtin_trap();
	for (size_t k = cap; k < cap + 64; k++)
		if (buf[k] != 0x5a)
			__builtin_trap(); /* wrote past the buffer */
	{
		const char *e = val(buf, buf + len - 1, 0);
		if (!e || ws(e, buf + len - 1) != buf + len - 1 || buf[0] != '{')
			__builtin_trap();
	}
	/* ug__json_escape: the count it returns is exact */
	{
		char out[600];
		size_t m = size - 2 > 100 ? 100 : size - 2;
		size_t need = ug__json_escape(out, sizeof(out), (const char *)data + 2, m);
		if (need <= sizeof(out)) {
			char q[700];
			q[0] = '"';
			memcpy(q + 1, out, need);
			q[need + 1] = '"';
			if (str(q, q + need + 2) != q + need + 2)
				__builtin_trap();
		}
	}
	return 0;
}
