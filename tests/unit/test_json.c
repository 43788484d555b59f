/*
 * Unit tests for the JSON writer (shim/json.c): byte-exact escaping of every
 * byte, UTF-8 validation (overlong, surrogates, out of range), truncation
 * that keeps the line one valid object, and nesting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

/* ---- a tiny strict JSON checker and string decoder ---------------------- */

struct cur {
	const char *p, *end;
};

static void ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes a JSON string at c->p (on the opening quote) into out as bytes,
 * the way Python's json + os.fsencode do: \udcXX (XX >= 0x80) gives the
 * byte XX, other code points their UTF-8.  Returns the length or -1. */
static long string(struct cur *c, unsigned char *out, size_t outsz)
{
	size_t o = 0;

	if (c->p >= c->end || *c->p != '"')
		return -1;
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p;
		unsigned cp;
		int i;

		if (ch < 0x20)
			return -1; /* raw control character */
		if (ch != '\\') {
			if (o < outsz)
				out[o] = ch;
			o++;
			c->p++;
			continue;
		}
		if (++c->p >= c->end)
			return -1;
		switch (*c->p) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = 8; break;
		case 'f': cp = 12; break;
		case 'n': cp = 10; break;
		case 'r': cp = 13; break;
		case 't': cp = 9; break;
		case 'u':
			if (c->end - c->p < 5)
				return -1;
			cp = 0;
			for (i = 1; i <= 4; i++) {
				int h = hexval(c->p[i]);
				if (h < 0)
					return -1;
				cp = cp * 16 + (unsigned)h;
			}
			c->p += 4;
			break;
		default:
			return -1;
		}
		c->p++;
		if (cp >= 0xdc80 && cp <= 0xdcff) {
			cp -= 0xdc00; /* surrogateescape: the raw byte */
			if (o < outsz)
				out[o] = (unsigned char)cp;
			o++;
		} else if (cp < 0x80) {
			if (o < outsz)
				out[o] = (unsigned char)cp;
			o++;
		} else if (cp < 0x800) {
			if (o + 1 < outsz) {
				out[o] = (unsigned char)(0xc0 | cp >> 6);
				out[o + 1] = (unsigned char)(0x80 | (cp & 63));
			}
			o += 2;
		} else {
			if (cp >= 0xd800 && cp <= 0xdfff)
				return -1; /* the writer never emits other surrogates */
			if (o + 2 < outsz) {
				out[o] = (unsigned char)(0xe0 | cp >> 12);
				out[o + 1] = (unsigned char)(0x80 | ((cp >> 6) & 63));
				out[o + 2] = (unsigned char)(0x80 | (cp & 63));
			}
			o += 3;
		}
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	return (long)o;
}

static bool value(struct cur *c, int depth);

static bool literal(struct cur *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return false;
	c->p += n;
	return true;
}

static bool number(struct cur *c)
{
	const char *s = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return false;
	if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9')
		return false; /* leading zero */
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s;
}

static bool value(struct cur *c, int depth)
{
	unsigned char scratch[1];

	if (depth > 100)
		return false;
	ws(c);
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{':
		c->p++;
		ws(c);
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return true;
		}
		for (;;) {
			ws(c);
			if (string(c, scratch, 0) < 0)
				return false;
			ws(c);
			if (c->p >= c->end || *c->p++ != ':')
				return false;
			if (!value(c, depth + 1))
				return false;
			ws(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				continue;
			}
			return c->p < c->end && *c->p++ == '}';
		}
	case '[':
		c->p++;
		ws(c);
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			return true;
		}
		for (;;) {
			if (!value(c, depth + 1))
				return false;
			ws(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				continue;
			}
			return c->p < c->end && *c->p++ == ']';
		}
	case '"':
		return string(c, scratch, 0) >= 0;
	case 't':
		return literal(c, "true");
	case 'f':
		return literal(c, "false");
	case 'n':
		return literal(c, "null");
	default:
		return number(c);
	}
}

/* True when buf[0..len) is exactly one JSON object and one final '\n'. */
static bool one_line_object(const char *buf, size_t len)
{
	struct cur c = {buf, buf + len};

	if (len < 3 || buf[0] != '{' || buf[len - 1] != '\n' ||
	    memchr(buf, '\n', len - 1))
		return false;
	c.end = buf + len - 1;
	if (!value(&c, 0))
		return false;
	return c.p == c.end;
}

/* The value of a top-level string member, decoded to bytes. */
static long member_bytes(const char *line, const char *key,
			 unsigned char *out, size_t outsz)
{
	char want[128];
	const char *at;
	struct cur c;

	snprintf(want, sizeof(want), "\"%s\":", key);
	at = strstr(line, want);
	if (!at)
		return -1;
	c.p = at + strlen(want);
	c.end = line + strlen(line);
	return string(&c, out, outsz);
}

/* ---- escaping ------------------------------------------------------------ */

static const char *expected_escape(unsigned b, char *tmp)
{
	if (b == '"')
		return "\\\"";
	if (b == '\\')
		return "\\\\";
	if (b == '\n')
		return "\\n";
	if (b == '\t')
		return "\\t";
	if (b == '\r')
		return "\\r";
	if (b < 0x20 || b == 0x7f) {
		sprintf(tmp, "\\u%04x", b);
		return tmp;
	}
	if (b >= 0x80) {
		sprintf(tmp, "\\udc%02x", b);
		return tmp;
	}
	tmp[0] = (char)b;
	tmp[1] = '\0';
	return tmp;
}

static void test_json_escape_every_byte_alone(void **state)
{
	unsigned b;

	(void)state;
	for (b = 0; b < 256; b++) {
		char in[1] = {(char)b}, out[16], tmp[16];
		const char *want = expected_escape(b, tmp);
		size_t n = ug__json_escape(out, sizeof(out), in, 1);

		if (n != strlen(want) || memcmp(out, want, n) != 0)
			fail_msg("byte 0x%02x: got %.*s want %s", b, (int)n, out,
				 want);
	}
}

/* Every byte in one path, in a real line: the line is valid JSON and the
 * path decodes (surrogateescape) to exactly the bytes given. */
static void test_json_escape_every_byte_roundtrip(void **state)
{
	char path[256 + 2], buf[8192];
	unsigned char back[600];
	struct ug_json j;
	size_t len;
	long n;
	int i;

	(void)state;
	path[0] = '/';
	for (i = 0; i < 256; i++)
		path[i + 1] = (char)(i == 0 ? 1 : i); /* NUL ends a C string */
	ug__json_init(&j, buf, sizeof(buf));
	ug__json_strn(&j, "path", path, 257);
	ug__json_str(&j, "after", "x");
	len = ug__json_finish(&j);
	assert_true(one_line_object(buf, len));
	assert_null(strstr(buf, "truncated"));
	buf[len] = '\0';
	n = member_bytes(buf, "path", back, sizeof(back));
	assert_int_equal(n, 257);
	assert_memory_equal(back, path, 257);
	/* and an embedded NUL through strn */
	ug__json_init(&j, buf, sizeof(buf));
	ug__json_strn(&j, "nul", "a\0b", 3);
	len = ug__json_finish(&j);
	buf[len] = '\0';
	assert_string_equal(buf, "{\"nul\":\"a\\u0000b\"}\n");
}

static void expect_escaped(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t got = ug__json_escape(out, sizeof(out), in, n);

	if (got != strlen(want) || memcmp(out, want, got) != 0)
		fail_msg("escape: got %.*s want %s", (int)got, out, want);
}

static void test_json_invalid_utf8_bytes_become_udcNN(void **state)
{
	(void)state;
	expect_escaped("\xc3", 1, "\\udcc3");                /* cut short */
	expect_escaped("a\xc3", 2, "a\\udcc3");
	expect_escaped("\x80", 1, "\\udc80");                /* lone cont. */
	expect_escaped("\xbf\xbf", 2, "\\udcbf\\udcbf");
	expect_escaped("\xc3(", 2, "\\udcc3(");              /* bad cont. */
	expect_escaped("\xe2\x82", 2, "\\udce2\\udc82");     /* 3 cut at 2 */
	expect_escaped("\xf0\x9d\x84", 3, "\\udcf0\\udc9d\\udc84");
	expect_escaped("\xff\xfe", 2, "\\udcff\\udcfe");
	expect_escaped("\xf5\x80\x80\x80", 4,
		       "\\udcf5\\udc80\\udc80\\udc80");      /* > U+13FFFF */
	expect_escaped("\xf8\x88\x80\x80\x80", 5,
		       "\\udcf8\\udc88\\udc80\\udc80\\udc80"); /* 5-byte form */
}

static void test_json_overlong_and_surrogates_rejected(void **state)
{
	(void)state;
	/* overlong encodings of '/' and NUL */
	expect_escaped("\xc0\xaf", 2, "\\udcc0\\udcaf");
	expect_escaped("\xc1\xbf", 2, "\\udcc1\\udcbf");
	expect_escaped("\xc0\x80", 2, "\\udcc0\\udc80");
	expect_escaped("\xe0\x80\xaf", 3, "\\udce0\\udc80\\udcaf");
	expect_escaped("\xe0\x9f\xbf", 3, "\\udce0\\udc9f\\udcbf");
	expect_escaped("\xf0\x80\x80\xaf", 4,
		       "\\udcf0\\udc80\\udc80\\udcaf");
	expect_escaped("\xf0\x8f\xbf\xbf", 4,
		       "\\udcf0\\udc8f\\udcbf\\udcbf");
	/* UTF-16 surrogates encoded in UTF-8 (CESU, WTF-8) */
	expect_escaped("\xed\xa0\x80", 3, "\\udced\\udca0\\udc80");
	expect_escaped("\xed\xbf\xbf", 3, "\\udced\\udcbf\\udcbf");
	expect_escaped("\xed\xb2\x80", 3, "\\udced\\udcb2\\udc80");
	/* past U+10FFFF */
	expect_escaped("\xf4\x90\x80\x80", 4,
		       "\\udcf4\\udc90\\udc80\\udc80");
}

static void test_json_valid_utf8_passes(void **state)
{
	static const char *ok[] = {
		"\xc2\x80",         /* U+0080 */
		"\xc3\xa9",         /* é */
		"\xdf\xbf",         /* U+07FF */
		"\xe0\xa0\x80",     /* U+0800 */
		"\xe2\x82\xac",     /* € */
		"\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
		"\xee\x80\x80",     /* U+E000, just above */
		"\xef\xbf\xbf",     /* U+FFFF */
		"\xf0\x90\x80\x80", /* U+10000 */
		"\xf0\x9d\x84\x9e", /* 𝄞 */
		"\xf4\x8f\xbf\xbf", /* U+10FFFF */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		expect_escaped(ok[i], strlen(ok[i]), ok[i]);
	expect_escaped("/srv/up/r\xc3\xa9sum\xc3\xa9.pdf", 20,
		       "/srv/up/r\xc3\xa9sum\xc3\xa9.pdf");
	/* a valid character right after an invalid byte */
	expect_escaped("\xc3\xc3\xa9", 3, "\\udcc3\xc3\xa9");
}

static void test_json_escape_never_writes_past_outsz(void **state)
{
	char out[32];
	size_t sz, need;

	(void)state;
	for (sz = 0; sz < 24; sz++) {
		memset(out, '#', sizeof(out));
		need = ug__json_escape(out, sz, "\x01\"\xc3\xa9\xff", 5);
		assert_int_equal(need, 6 + 2 + 2 + 6);
		assert_true(out[sz] == '#');
	}
}

/* ---- numbers, keys ---------------------------------------------------------- */

static void test_json_numbers(void **state)
{
	char buf[512];
	struct ug_json j;
	size_t len;

	(void)state;
	ug__json_init(&j, buf, sizeof(buf));
	ug__json_u64(&j, "u", UINT64_MAX);
	ug__json_i64(&j, "i", INT64_MIN);
	ug__json_i64(&j, "z", 0);
	ug__json_hex(&j, "h", 0x7f00dead);
	ug__json_hex(&j, "h0", 0);
	ug__json_bool(&j, "t", true);
	ug__json_null(&j, "n");
	ug__json_str(&j, "s", NULL);
	len = ug__json_finish(&j);
	buf[len] = '\0';
	assert_string_equal(buf,
			    "{\"u\":18446744073709551615,"
			    "\"i\":-9223372036854775808,\"z\":0,"
			    "\"h\":\"0x7f00dead\",\"h0\":\"0x0\",\"t\":true,"
			    "\"n\":null,\"s\":null}\n");
	assert_true(one_line_object(buf, len));
}

/* ---- nesting ------------------------------------------------------------------ */

static void test_json_nesting(void **state)
{
	char buf[1024];
	struct ug_json j;
	size_t len;

	(void)state;
	ug__json_init(&j, buf, sizeof(buf));
	ug__json_u64(&j, "v", 1);
	assert_true(ug__json_arr_begin(&j, "bt"));
	assert_true(ug__json_obj_begin(&j, NULL));
	ug__json_hex(&j, "ip", 0x10);
	ug__json_end(&j, '}');
	assert_true(ug__json_obj_begin(&j, NULL));
	assert_true(ug__json_arr_begin(&j, "deep"));
	ug__json_u64(&j, NULL, 1);
	ug__json_u64(&j, NULL, 2);
	ug__json_end(&j, ']');
	ug__json_end(&j, '}');
	ug__json_end(&j, ']');
	assert_true(ug__json_obj_begin(&j, "caps"));
	ug__json_end(&j, '}');
	ug__json_str(&j, "last", "x");
	len = ug__json_finish(&j);
	buf[len] = '\0';
	assert_string_equal(buf, "{\"v\":1,\"bt\":[{\"ip\":\"0x10\"},"
				 "{\"deep\":[1,2]}],\"caps\":{},\"last\":\"x\"}\n");
	assert_true(one_line_object(buf, len));
}

/* A caller that gives up with containers open, or names the wrong closer,
 * still gets one valid object. */
static void test_json_unbalanced_callers_stay_valid(void **state)
{
	char buf[256];
	struct ug_json j;
	size_t len;

	(void)state;
	ug__json_init(&j, buf, sizeof(buf));
	assert_true(ug__json_arr_begin(&j, "a"));
	assert_true(ug__json_obj_begin(&j, NULL));
	ug__json_str(&j, "k", "v");
	len = ug__json_finish(&j);
	buf[len] = '\0';
	assert_string_equal(buf, "{\"a\":[{\"k\":\"v\"}]}\n");

	ug__json_init(&j, buf, sizeof(buf));
	assert_true(ug__json_obj_begin(&j, "o"));
	ug__json_end(&j, ']'); /* wrong closer named */
	ug__json_end(&j, '}'); /* one too many */
	len = ug__json_finish(&j);
	buf[len] = '\0';
	assert_string_equal(buf, "{\"o\":{}}\n");
}

/* ---- truncation ------------------------------------------------------------- */

static size_t build_event(char *buf, size_t cap)
{
	struct ug_json j;
	char big[3000];
	int i;

	memset(big, 'p', sizeof(big));
	big[100] = '\xff';
	big[200] = '"';
	ug__json_init(&j, buf, cap);
	ug__json_u64(&j, "v", 1);
	ug__json_str(&j, "event", "cap_exceeded");
	ug__json_strn(&j, "path", big, sizeof(big));
	ug__json_i64(&j, "pid", 1234);
	if (ug__json_obj_begin(&j, "caps")) {
		ug__json_u64(&j, "max_file", 1048576);
		ug__json_strn(&j, "note", big, 500);
		ug__json_end(&j, '}');
	}
	if (ug__json_arr_begin(&j, "backtrace")) {
		for (i = 0; i < 32; i++) {
			if (!ug__json_obj_begin(&j, NULL))
				break;
			ug__json_hex(&j, "ip", 0x7f0000001000ULL + (unsigned)i);
			ug__json_str(&j, "module", "/usr/lib/x86_64-linux-gnu/"
						   "libc.so.6");
			ug__json_str(&j, "symbol", "write+0x1d");
			ug__json_end(&j, '}');
		}
		ug__json_end(&j, ']');
	}
	ug__json_str(&j, "tail", "end");
	return ug__json_finish(&j);
}

static void test_json_truncation_keeps_one_valid_line(void **state)
{
	static char buf[16384];
	size_t cap, len;
	unsigned char dec[4000];

	(void)state;
	/* every size from tiny to roomy: a valid object, or nothing */
	for (cap = 0; cap < 9000; cap += (cap < 700 ? 1 : 37)) {
		memset(buf, '#', sizeof(buf));
		len = build_event(buf, cap);
		if (cap < 64) {
			assert_true(len <= cap);
			continue;
		}
		assert_true(len > 0 && len <= cap);
		assert_true(buf[cap] == '#'); /* nothing past the buffer */
		if (!one_line_object(buf, len))
			fail_msg("cap %zu: not one JSON object: %.*s", cap,
				 (int)len, buf);
		buf[len] = '\0';
		/* a dropped field shows: "truncated":true at the top level */
		if (!strstr(buf, "\"tail\":\"end\"") ||
		    !strstr(buf, "\"path\":"))
			assert_non_null(strstr(buf, ",\"truncated\":true}\n"));
		/* a field is whole or absent: the path, when there, is all */
		if (strstr(buf, "\"path\":"))
			assert_int_equal(member_bytes(buf, "path", dec,
						      sizeof(dec)), 3000);
	}
	/* roomy: nothing dropped */
	len = build_event(buf, sizeof(buf));
	buf[len] = '\0';
	assert_null(strstr(buf, "truncated"));
	assert_true(one_line_object(buf, len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape_every_byte_alone),
		cmocka_unit_test(test_json_escape_every_byte_roundtrip),
		cmocka_unit_test(test_json_invalid_utf8_bytes_become_udcNN),
		cmocka_unit_test(test_json_overlong_and_surrogates_rejected),
		cmocka_unit_test(test_json_valid_utf8_passes),
		cmocka_unit_test(test_json_escape_never_writes_past_outsz),
		cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_json_nesting),
		cmocka_unit_test(test_json_unbalanced_callers_stay_valid),
		cmocka_unit_test(test_json_truncation_keeps_one_valid_line),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
