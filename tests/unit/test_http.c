/*
 * Unit tests for shim/http.c.  Every request that fits is fed three ways:
 * whole, split in two at every byte boundary, and one byte at a time; the
 * combined result (the most significant event, the last found value) must
 * be the same each way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http.h"

#define SPLIT_MAX 4096 /* split at every boundary only below this length */

static int rank(enum ug_http_event ev)
{
	static const int r[] = {
		[UG_HTTP_NONE] = 0,
		[UG_HTTP_NOT_HTTP] = 1,
		[UG_HTTP_HEAD_END] = 2,
		[UG_HTTP_FOUND] = 3,
	};

	return r[ev];
}

static enum ug_http_event merge(enum ug_http_event a, enum ug_http_event b)
{
	return rank(b) > rank(a) ? b : a;
}

/* Feeds buf in pieces of `piece` bytes (0: whole), merging the events. */
static enum ug_http_event feed_pieces(struct ug_http *h, const char *buf,
				      size_t len, size_t piece)
{
	enum ug_http_event ev = UG_HTTP_NONE;
	size_t off = 0;

	if (!piece)
		piece = len;
	while (off < len) {
		size_t k = len - off < piece ? len - off : piece;

		ev = merge(ev, ug__http_feed(h, buf + off, k));
		off += k;
	}
	return ev;
}

static void check(struct ug_http *h, enum ug_http_event got,
		  enum ug_http_event want, const char *value, const char *how,
		  size_t at)
{
	if (got != want)
		fail_msg("%s (at %zu): event %d, want %d", how, at, got, want);
	if (want == UG_HTTP_FOUND) {
		assert_int_equal(h->valuelen, strlen(value));
		if (strcmp(h->value, value))
			fail_msg("%s (at %zu): value '%s', want '%s'", how, at,
				 h->value, value);
	}
}

/* Asserts that buf scans to (want, value) whole, split and byte-wise. */
static void expect_n(enum ug_http_want kind, const char *name,
		     const char *buf, size_t len, enum ug_http_event want,
		     const char *value)
{
	struct ug_http h;
	enum ug_http_event ev;
	size_t cut;

	ug__http_init(&h, kind, name);
	check(&h, feed_pieces(&h, buf, len, 0), want, value, "whole", 0);

	ug__http_init(&h, kind, name);
	check(&h, feed_pieces(&h, buf, len, 1), want, value, "bytewise", 0);

	if (len > SPLIT_MAX)
		return;
	for (cut = 0; cut <= len; cut++) {
		ug__http_init(&h, kind, name);
		ev = ug__http_feed(&h, buf, cut);
		ev = merge(ev, ug__http_feed(&h, buf + cut, len - cut));
		check(&h, ev, want, value, "split", cut);
	}
}

static void expect(enum ug_http_want kind, const char *name, const char *buf,
		   enum ug_http_event want, const char *value)
{
	expect_n(kind, name, buf, strlen(buf), want, value);
}

#define COOKIE(req, ev, val) expect(UG_HTTP_COOKIE, "sid", req, ev, val)
#define HEADER(req, ev, val) expect(UG_HTTP_HEADER, "X-Session", req, ev, val)

/* ========================= cookies ========================= */

static void test_http_cookie_found(void **state)
{
	(void)state;
	COOKIE("GET /x?a=b HTTP/1.1\r\nHost: h\r\nCookie: sid=XYZ\r\n\r\n",
	       UG_HTTP_FOUND, "XYZ");
}

static void test_http_split_every_boundary(void **state)
{
	(void)state;
	/* expect() splits at every boundary; this request has every part. */
	COOKIE("POST /upload HTTP/1.0\r\nHost: example\r\n"
	       "Cookie: a=1; sid=\"q-1\"; b=2\r\n"
	       "X-Fold: one\r\n two\r\nContent-Length: 4\r\n\r\nbody"
	       "GET / HTTP/1.1\r\nCookie: sid=second\r\n\r\n",
	       UG_HTTP_FOUND, "second");
}

static void test_http_byte_at_a_time(void **state)
{
	const char *req = "GET / HTTP/1.1\r\nCookie: sid=abc\r\n\r\n";
	struct ug_http h;
	size_t i, n = strlen(req);

	(void)state;
	ug__http_init(&h, UG_HTTP_COOKIE, "sid");
	for (i = 0; i + 1 < n; i++)
		assert_int_equal(ug__http_feed(&h, req + i, 1), UG_HTTP_NONE);
	assert_int_equal(ug__http_feed(&h, req + i, 1), UG_HTTP_FOUND);
	assert_string_equal(h.value, "abc");
}

static void test_http_several_cookies(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie: a=1; sid=XYZ; b=2\r\n\r\n",
	       UG_HTTP_FOUND, "XYZ");
	COOKIE("GET / HTTP/1.1\r\nCookie: a=1;b=2;sid=last\r\n\r\n",
	       UG_HTTP_FOUND, "last");
}

static void test_http_several_cookie_headers(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie: a=1\r\nHost: h\r\n"
	       "Cookie: b=2; sid=two\r\n\r\n",
	       UG_HTTP_FOUND, "two");
}

static void test_http_first_occurrence_wins(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=one; sid=two\r\n"
	       "Cookie: sid=three\r\n\r\n",
	       UG_HTTP_FOUND, "one");
	HEADER("GET / HTTP/1.1\r\nX-Session: one\r\nX-Session: two\r\n\r\n",
	       UG_HTTP_FOUND, "one");
}

static void test_http_quoted_value(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=\"XYZ\"\r\n\r\n", UG_HTTP_FOUND,
	       "XYZ");
	COOKIE("GET / HTTP/1.1\r\nCookie: a=\"x\"; sid=\"XYZ\" ; b=2\r\n\r\n",
	       UG_HTTP_FOUND, "XYZ");
	/* Unterminated or trailing junk: ignored. */
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=\"XYZ\r\n\r\n",
	       UG_HTTP_HEAD_END, NULL);
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=\"XYZ\"Q\r\n\r\n",
	       UG_HTTP_HEAD_END, NULL);
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=\"\"\r\n\r\n", UG_HTTP_HEAD_END,
	       NULL);
}

static void test_http_spaces_around_semicolons(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie:a=1 ;  sid = XYZ  ;b=2\r\n\r\n",
	       UG_HTTP_FOUND, "XYZ");
	COOKIE("GET / HTTP/1.1\r\nCookie: \t a=1\t;\tsid=XYZ\t\r\n\r\n",
	       UG_HTTP_FOUND, "XYZ");
}

static void test_http_cookie_name_suffix_prefix(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie: xsid=1; sid=2\r\n\r\n",
	       UG_HTTP_FOUND, "2");
	COOKIE("GET / HTTP/1.1\r\nCookie: sidx=1; sid=2\r\n\r\n",
	       UG_HTTP_FOUND, "2");
	COOKIE("GET / HTTP/1.1\r\nCookie: si=1; sidx=2; s id=3; x=sid\r\n\r\n",
	       UG_HTTP_HEAD_END, NULL);
	/* Cookie names are case-sensitive. */
	COOKIE("GET / HTTP/1.1\r\nCookie: SID=1\r\n\r\n", UG_HTTP_HEAD_END,
	       NULL);
}

static void test_http_empty_value_ignored(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=; sid=ok\r\n\r\n", UG_HTTP_FOUND,
	       "ok");
	COOKIE("GET / HTTP/1.1\r\nCookie: sid\r\n\r\n", UG_HTTP_HEAD_END,
	       NULL);
	HEADER("GET / HTTP/1.1\r\nX-Session:   \r\n\r\n", UG_HTTP_HEAD_END,
	       NULL);
}

static void test_http_cookie_folding(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\r\nCookie: a=1;\r\n sid=XYZ\r\n\r\n",
	       UG_HTTP_FOUND, "XYZ");
}

/* ========================= headers ========================= */

static void test_http_header_case_insensitive(void **state)
{
	(void)state;
	HEADER("GET / HTTP/1.1\r\nx-session: abc\r\n\r\n", UG_HTTP_FOUND,
	       "abc");
	HEADER("GET / HTTP/1.1\r\nX-SESSION: abc\r\n\r\n", UG_HTTP_FOUND,
	       "abc");
	expect(UG_HTTP_HEADER, "x-SeSsIoN",
	       "GET / HTTP/1.1\r\nX-Session: abc\r\n\r\n", UG_HTTP_FOUND,
	       "abc");
	/* Prefixes and suffixes of the name are other headers. */
	HEADER("GET / HTTP/1.1\r\nX-Session-Id: a\r\nX-Sessio: b\r\n\r\n",
	       UG_HTTP_HEAD_END, NULL);
}

static void test_http_header_trimmed(void **state)
{
	(void)state;
	HEADER("GET / HTTP/1.1\r\nX-Session: \t abc def \t \r\n\r\n",
	       UG_HTTP_FOUND, "abc def");
	HEADER("GET / HTTP/1.1\r\nX-Session:abc\r\n\r\n", UG_HTTP_FOUND,
	       "abc");
	/* "Name :" is not a header field (RFC 9112 5.1). */
	HEADER("GET / HTTP/1.1\r\nX-Session : abc\r\n\r\n", UG_HTTP_HEAD_END,
	       NULL);
}

static void test_http_header_folding(void **state)
{
	(void)state;
	HEADER("GET / HTTP/1.1\r\nX-Session: abc  \r\n  \t def\r\n\r\n",
	       UG_HTTP_FOUND, "abc def");
	HEADER("GET / HTTP/1.1\r\nX-Session: a\r\n b\r\n\tc\r\nHost: h\r\n\r\n",
	       UG_HTTP_FOUND, "a b c");
	HEADER("GET / HTTP/1.1\r\nX-Session:\r\n abc\r\n\r\n", UG_HTTP_FOUND,
	       "abc");
	/* A fold of another header does not leak into ours. */
	HEADER("GET / HTTP/1.1\r\nX-Other: a\r\n X-Session: b\r\n\r\n",
	       UG_HTTP_HEAD_END, NULL);
	/* Whitespace-led first line is ignored (RFC 9112 5.2). */
	HEADER("GET / HTTP/1.1\r\n X-Session: b\r\n\r\n", UG_HTTP_HEAD_END,
	       NULL);
}

/* ======================== framing ========================== */

static void test_http_bare_lf(void **state)
{
	(void)state;
	COOKIE("GET / HTTP/1.1\nHost: h\nCookie: sid=lf\n\n", UG_HTTP_FOUND,
	       "lf");
	HEADER("GET / HTTP/1.1\nX-Session: a\n b\n\n", UG_HTTP_FOUND, "a b");
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=mix\n\r\n", UG_HTTP_FOUND,
	       "mix");
}

static void test_http_pipelined_second_wins(void **state)
{
	(void)state;
	COOKIE("GET /1 HTTP/1.1\r\nCookie: sid=first\r\n\r\n"
	       "GET /2 HTTP/1.1\r\nCookie: sid=second\r\n\r\n",
	       UG_HTTP_FOUND, "second");
}

static void test_http_pipelined_without_cookie(void **state)
{
	const char *r1 = "GET /1 HTTP/1.1\r\nCookie: sid=first\r\n\r\n";
	const char *r2 = "GET /2 HTTP/1.1\r\nCookie: other=1\r\n\r\n";
	struct ug_http h;

	(void)state;
	ug__http_init(&h, UG_HTTP_COOKIE, "sid");
	assert_int_equal(ug__http_feed(&h, r1, strlen(r1)), UG_HTTP_FOUND);
	assert_string_equal(h.value, "first");
	assert_int_equal(ug__http_feed(&h, r2, strlen(r2)), UG_HTTP_HEAD_END);
	assert_int_equal(ug__http_feed(&h, r1, strlen(r1)), UG_HTTP_FOUND);

	/* In one piece, FOUND wins and the value is the first head's. */
	COOKIE("GET /1 HTTP/1.1\r\nCookie: sid=first\r\n\r\n"
	       "GET /2 HTTP/1.1\r\n\r\n",
	       UG_HTTP_FOUND, "first");
	COOKIE("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
	       UG_HTTP_HEAD_END, NULL);
	/* Blank lines between requests are skipped. */
	COOKIE("GET /1 HTTP/1.1\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\n"
	       "Cookie: sid=2\r\n\r\n",
	       UG_HTTP_FOUND, "2");
}

static void test_http_body_not_parsed_as_head(void **state)
{
	const char *body = "GET / HTTP/1.1\r\nCookie: sid=EVIL\r\n\r\n";
	char req[512];

	(void)state;
	snprintf(req, sizeof(req),
		 "POST /up HTTP/1.1\r\nContent-Length: %zu\r\n"
		 "Cookie: sid=good\r\n\r\n%s",
		 strlen(body), body);
	COOKIE(req, UG_HTTP_FOUND, "good");

	/* Body, then a real request: the real one is found. */
	snprintf(req, sizeof(req),
		 "POST /up HTTP/1.1\r\ncontent-length:  %zu \r\n\r\n%s"
		 "GET / HTTP/1.1\r\nCookie: sid=real\r\n\r\n",
		 strlen(body), body);
	COOKIE(req, UG_HTTP_FOUND, "real");

	/* A body that never arrives whole stays a body. */
	snprintf(req, sizeof(req),
		 "POST /up HTTP/1.1\r\nContent-Length: 1000\r\n\r\n%s", body);
	COOKIE(req, UG_HTTP_HEAD_END, NULL);
}

static void test_http_chunked_gives_up(void **state)
{
	const char *req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			  "Cookie: sid=c\r\n\r\n";
	struct ug_http h;

	(void)state;
	COOKIE(req, UG_HTTP_FOUND, "c");
	ug__http_init(&h, UG_HTTP_COOKIE, "sid");
	assert_int_equal(ug__http_feed(&h, req, strlen(req)), UG_HTTP_FOUND);
	assert_int_equal(ug__http_feed(&h, "GET / HTTP/1.1\r\n\r\n", 18),
			 UG_HTTP_NOT_HTTP);
}

static void test_http_bad_content_length_gives_up(void **state)
{
	static const char *const reqs[] = {
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3 4\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"CONNECT h:443 HTTP/1.1\r\n\r\n",
	};
	struct ug_http h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		ug__http_init(&h, UG_HTTP_COOKIE, "sid");
		assert_int_equal(ug__http_feed(&h, reqs[i], strlen(reqs[i])),
				 UG_HTTP_HEAD_END);
		assert_int_equal(ug__http_feed(&h, "GET / HTTP/1.1\r\n\r\n", 18),
				 UG_HTTP_NOT_HTTP);
	}
}

/* ======================== not HTTP ========================= */

static void test_http_binary_garbage(void **state)
{
	static const char garbage[] = "\x00\x01\xff\xfe GET / HTTP/1.1\r\n\r\n";
	struct ug_http h;

	(void)state;
	expect_n(UG_HTTP_COOKIE, "sid", garbage, sizeof(garbage) - 1,
		 UG_HTTP_NOT_HTTP, NULL);
	COOKIE("get / HTTP/1.1\r\n\r\n", UG_HTTP_NOT_HTTP, NULL);
	COOKIE(" GET / HTTP/1.1\r\n\r\n", UG_HTTP_NOT_HTTP, NULL);
	COOKIE("GET  / HTTP/1.1\r\n\r\n", UG_HTTP_NOT_HTTP, NULL);
	COOKIE("GET / HTTP/1.1 \r\n\r\n", UG_HTTP_NOT_HTTP, NULL);
	COOKIE("GET /\r\n\r\n", UG_HTTP_NOT_HTTP, NULL);
	COOKIE("GET / HTTP/1.1\rX\r\n", UG_HTTP_NOT_HTTP, NULL);
	COOKIE("SSH-2.0-OpenSSH_9.2\r\n", UG_HTTP_NOT_HTTP, NULL);

	/* Sticky: a valid request afterwards is not scanned. */
	ug__http_init(&h, UG_HTTP_COOKIE, "sid");
	assert_int_equal(ug__http_feed(&h, garbage, 4), UG_HTTP_NOT_HTTP);
	assert_int_equal(ug__http_feed(&h, "GET / HTTP/1.1\r\n\r\n", 18),
			 UG_HTTP_NOT_HTTP);
	assert_int_equal(ug__http_feed(&h, "", 0), UG_HTTP_NOT_HTTP);
}

static void test_http_tls_not_http(void **state)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03";

	(void)state;
	expect_n(UG_HTTP_COOKIE, "sid", hello, sizeof(hello) - 1,
		 UG_HTTP_NOT_HTTP, NULL);
}

static void test_http_h2_preface_not_http(void **state)
{
	(void)state;
	COOKIE("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", UG_HTTP_NOT_HTTP, NULL);
}

static void test_http_method_limits(void **state)
{
	(void)state;
	COOKIE("ABCDEFGHIJKLMNOP / HTTP/1.1\r\nCookie: sid=16\r\n\r\n",
	       UG_HTTP_FOUND, "16");
	COOKIE("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nCookie: sid=17\r\n\r\n",
	       UG_HTTP_NOT_HTTP, NULL);
	COOKIE("VERSION-CONTROL / HTTP/1.1\r\nCookie: sid=v\r\n\r\n",
	       UG_HTTP_FOUND, "v");
}

/* ========================= limits ========================== */

/* A head of exactly `size` bytes with the cookie at its end. */
static char *big_head(size_t size, size_t *len)
{
	const char *start = "GET / HTTP/1.1\r\n";
	const char *end = "Cookie: sid=big\r\n\r\n";
	size_t fill = size - strlen(start) - strlen(end);
	char *buf = malloc(size + 1);

	assert_non_null(buf);
	assert_true(fill > 16);
	strcpy(buf, start);
	memcpy(buf + strlen(start), "X-Pad: ", 7);
	memset(buf + strlen(start) + 7, 'p', fill - 9);
	memcpy(buf + strlen(start) + fill - 2, "\r\n", 2);
	strcpy(buf + strlen(start) + fill, end);
	*len = strlen(buf);
	assert_int_equal(*len, size);
	return buf;
}

static void test_http_head_at_limit(void **state)
{
	size_t len;
	char *buf = big_head(UG_HTTP_HEAD_MAX, &len);

	(void)state;
	expect_n(UG_HTTP_COOKIE, "sid", buf, len, UG_HTTP_FOUND, "big");
	free(buf);
}

static void test_http_head_over_64k(void **state)
{
	size_t len;
	char *buf = big_head(UG_HTTP_HEAD_MAX + 1, &len);
	struct ug_http h;

	(void)state;
	expect_n(UG_HTTP_COOKIE, "sid", buf, len, UG_HTTP_HEAD_END, NULL);
	ug__http_init(&h, UG_HTTP_COOKIE, "sid");
	assert_int_equal(ug__http_feed(&h, buf, len), UG_HTTP_HEAD_END);
	assert_int_equal(ug__http_feed(&h, "GET / HTTP/1.1\r\n\r\n", 18),
			 UG_HTTP_NOT_HTTP);
	free(buf);

	/* A huge request target counts too. */
	buf = malloc(UG_HTTP_HEAD_MAX + 64);
	assert_non_null(buf);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', UG_HTTP_HEAD_MAX);
	strcpy(buf + 5 + UG_HTTP_HEAD_MAX, " HTTP/1.1\r\n\r\n");
	expect(UG_HTTP_COOKIE, "sid", buf, UG_HTTP_HEAD_END, NULL);
	free(buf);
}

static void test_http_value_too_long(void **state)
{
	char req[1024], val[UG_HTTP_VALUE_MAX + 1];

	(void)state;
	memset(val, 'v', sizeof(val));
	val[UG_HTTP_VALUE_MAX - 1] = '\0'; /* 255 bytes: fits */
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nCookie: sid=%s\r\n\r\n",
		 val);
	COOKIE(req, UG_HTTP_FOUND, val);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Session: %s  \r\n\r\n",
		 val);
	HEADER(req, UG_HTTP_FOUND, val);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nCookie: sid=\"%s\"\r\n\r\n",
		 val);
	COOKIE(req, UG_HTTP_FOUND, val);

	val[UG_HTTP_VALUE_MAX - 1] = 'v'; /* 256 bytes: ignored, not cut */
	val[UG_HTTP_VALUE_MAX] = '\0';
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nCookie: sid=%s\r\n\r\n",
		 val);
	COOKIE(req, UG_HTTP_HEAD_END, NULL);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Session: %s\r\n\r\n",
		 val);
	HEADER(req, UG_HTTP_HEAD_END, NULL);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nCookie: sid=\"%s\"\r\n\r\n",
		 val);
	COOKIE(req, UG_HTTP_HEAD_END, NULL);
	/* A long one does not hide a later good one. */
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nCookie: sid=%s; sid=short\r\n\r\n", val);
	COOKIE(req, UG_HTTP_FOUND, "short");
}

static void test_http_control_bytes_ignored(void **state)
{
	static const char c1[] = "GET / HTTP/1.1\r\nCookie: sid=a\x01z\r\n\r\n";
	static const char c2[] = "GET / HTTP/1.1\r\nCookie: sid=a\x7fz\r\n\r\n";
	static const char c3[] = "GET / HTTP/1.1\r\nCookie: sid=a\0z\r\n\r\n";
	static const char h1[] = "GET / HTTP/1.1\r\nX-Session: a\x1bz\r\n\r\n";
	static const char h2[] = "GET / HTTP/1.1\r\nX-Session: a\rz\r\n\r\n";

	(void)state;
	expect_n(UG_HTTP_COOKIE, "sid", c1, sizeof(c1) - 1, UG_HTTP_HEAD_END,
		 NULL);
	expect_n(UG_HTTP_COOKIE, "sid", c2, sizeof(c2) - 1, UG_HTTP_HEAD_END,
		 NULL);
	expect_n(UG_HTTP_COOKIE, "sid", c3, sizeof(c3) - 1, UG_HTTP_HEAD_END,
		 NULL);
	expect_n(UG_HTTP_HEADER, "X-Session", h1, sizeof(h1) - 1,
		 UG_HTTP_HEAD_END, NULL);
	/* A bare CR is a framing error: the scanner gives up. */
	expect_n(UG_HTTP_HEADER, "X-Session", h2, sizeof(h2) - 1,
		 UG_HTTP_HEAD_END, NULL);
	/* HT inside a header value is allowed; inside a cookie it is not. */
	HEADER("GET / HTTP/1.1\r\nX-Session: a\tb\r\n\r\n", UG_HTTP_FOUND,
	       "a\tb");
	COOKIE("GET / HTTP/1.1\r\nCookie: sid=a\tb\r\n\r\n", UG_HTTP_HEAD_END,
	       NULL);
	/* Control bytes elsewhere do not matter. */
	COOKIE("GET / HTTP/1.1\r\nX-Junk: \x01\x02\x7f\r\nCookie: a=\x01; "
	       "sid=ok\r\n\r\n",
	       UG_HTTP_FOUND, "ok");
}

/* ========================= fuzzing ========================= */

static uint64_t rng = 0x9e3779b97f4a7c15ull; /* fixed seed */

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void check_result(struct ug_http *h, enum ug_http_event ev)
{
	size_t i;

	if (ev != UG_HTTP_FOUND)
		return;
	assert_true(h->valuelen > 0 && h->valuelen < UG_HTTP_VALUE_MAX);
	assert_int_equal(h->value[h->valuelen], '\0');
	for (i = 0; i < h->valuelen; i++)
		assert_true((unsigned char)h->value[i] >= 0x20 ||
			    h->value[i] == '\t');
}

/* 1 MiB of random bytes, raw and behind a valid request line, in random
 * pieces: nothing may crash or read out of bounds. */
static void test_http_random_bytes(void **state)
{
	static const char alpha[] = "GET / HTTP/1.1\r\n:;= \t\"sidCookieX-";
	static const char *const primes[] = {
		"", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nCookie: ",
		"GET / HTTP/1.1\r\nX-Session: ",
	};
	size_t size = 1 << 20, off, round;
	char *buf = malloc(size);
	struct ug_http h;

	(void)state;
	assert_non_null(buf);
	for (round = 0; round < 3; round++) {
		for (off = 0; off < size; off++) {
			uint32_t r = next_rand();
			/* round 0: raw bytes; later: mostly HTTP-ish */
			buf[off] = round == 0 || r % 4 == 0
					   ? (char)(r >> 8)
					   : alpha[(r >> 8) % (sizeof(alpha) - 1)];
		}
		for (off = 0; off < size;) {
			const char *p = primes[next_rand() % 4];
			enum ug_http_want w = next_rand() % 2 ? UG_HTTP_COOKIE
							      : UG_HTTP_HEADER;

			ug__http_init(&h, w, w == UG_HTTP_COOKIE ? "sid"
								 : "X-Session");
			check_result(&h, ug__http_feed(&h, p, strlen(p)));
			while (off < size) {
				size_t k = next_rand() % 300;
				enum ug_http_event ev;

				if (k > size - off)
					k = size - off;
				ev = ug__http_feed(&h, buf + off, k);
				off += k;
				check_result(&h, ev);
				if (ev == UG_HTTP_NOT_HTTP)
					break;
			}
		}
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_cookie_found),
		cmocka_unit_test(test_http_split_every_boundary),
		cmocka_unit_test(test_http_byte_at_a_time),
		cmocka_unit_test(test_http_several_cookies),
		cmocka_unit_test(test_http_several_cookie_headers),
		cmocka_unit_test(test_http_first_occurrence_wins),
		cmocka_unit_test(test_http_quoted_value),
		cmocka_unit_test(test_http_spaces_around_semicolons),
		cmocka_unit_test(test_http_cookie_name_suffix_prefix),
		cmocka_unit_test(test_http_empty_value_ignored),
		cmocka_unit_test(test_http_cookie_folding),
		cmocka_unit_test(test_http_header_case_insensitive),
		cmocka_unit_test(test_http_header_trimmed),
		cmocka_unit_test(test_http_header_folding),
		cmocka_unit_test(test_http_bare_lf),
		cmocka_unit_test(test_http_pipelined_second_wins),
		cmocka_unit_test(test_http_pipelined_without_cookie),
		cmocka_unit_test(test_http_body_not_parsed_as_head),
		cmocka_unit_test(test_http_chunked_gives_up),
		cmocka_unit_test(test_http_bad_content_length_gives_up),
		cmocka_unit_test(test_http_binary_garbage),
		cmocka_unit_test(test_http_tls_not_http),
		cmocka_unit_test(test_http_h2_preface_not_http),
		cmocka_unit_test(test_http_method_limits),
		cmocka_unit_test(test_http_head_at_limit),
		cmocka_unit_test(test_http_head_over_64k),
		cmocka_unit_test(test_http_value_too_long),
		cmocka_unit_test(test_http_control_bytes_ignored),
		cmocka_unit_test(test_http_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
