/*
 * Unit tests for shim/config.c: the size parser, the INI parser and its
 * messages, hostile input, environment overrides and the raw-syscall loader.
 * Single-threaded; uses temporary files under $TMPDIR (or /tmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static struct ug_config cfg;
static char err[512];

/* Parses a NUL-terminated text named "t.conf" into the global cfg. */
static int parse(const char *text)
{
	ug__config_free(&cfg);
	memset(err, 'X', sizeof(err));
	return ug__config_parse(&cfg, text, strlen(text), "t.conf", err,
				sizeof(err));
}

/* Asserts that text fails with exactly message msg. */
static void expect_err(const char *text, const char *msg)
{
	assert_int_equal(parse(text), -EINVAL);
	assert_string_equal(err, msg);
	assert_int_equal(cfg.nroots, 0);
}

static bool has_raw_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int teardown(void **state)
{
	(void)state;
	ug__config_free(&cfg);
	return 0;
}

/* ---------------------------------------------------------------- sizes */

static void test_size_plain_bytes(void **state)
{
	uint64_t v = 1;

	(void)state;
	assert_int_equal(ug__parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ug__parse_size("123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(ug__parse_size("007", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(ug__parse_size("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_size_suffixes_are_powers_of_1024(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(ug__parse_size("10K", &v), 0);
	assert_true(v == 10240);
	assert_int_equal(ug__parse_size("10k", &v), 0);
	assert_true(v == 10240);
	assert_int_equal(ug__parse_size("10M", &v), 0);
	assert_true(v == 10485760);
	assert_int_equal(ug__parse_size("1g", &v), 0);
	assert_true(v == 1073741824ull);
	assert_int_equal(ug__parse_size("2T", &v), 0);
	assert_true(v == 2ull << 40);
	assert_int_equal(ug__parse_size("0M", &v), 0);
	assert_true(v == 0);
}

static void test_size_rejects_malformed(void **state)
{
	static const char *const bad[] = {
	    "",	 "-1",	"+1",  "1.5M", "10KB", "10 M",	" 10",	 "10 ",
	    "K", "10Q", "1MM", "0x10", "1e3",  "10MiB", "1,000", "m10",
	};
	uint64_t v = 42;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ug__parse_size(bad[i], &v), -EINVAL);
		assert_true(v == 42); /* untouched on error */
	}
	assert_int_equal(ug__parse_size(NULL, &v), -EINVAL);
}

static void test_size_overflow_is_erange(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(ug__parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(ug__parse_size("99999999999999999999999", &v),
			 -ERANGE);
	assert_int_equal(ug__parse_size("16777216T", &v), -ERANGE); /* 2^64 */
	assert_int_equal(ug__parse_size("16777215T", &v), 0);
	assert_true(v == 16777215ull << 40);
	assert_int_equal(ug__parse_size("17179869184G", &v), -ERANGE);
}

/* --------------------------------------------------------------- parser */

static void test_config_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse(""), 0);
	assert_int_equal(cfg.mode, UG_MODE_LOG);
	assert_string_equal(cfg.log, "stderr");
	assert_false(cfg.on_error_closed);
	assert_false(cfg.audit);
	assert_false(cfg.io_uring_block);
	assert_null(cfg.only);
	assert_int_equal(cfg.nsources, 1);
	assert_int_equal(cfg.sources[0].kind, UG_SRC_API);
	assert_string_equal(cfg.sources[0].name, "");
	assert_int_equal(cfg.cross, UG_MODE_LOG);
	assert_null(cfg.salt);
	assert_null(cfg.roots);
	assert_int_equal(cfg.nroots, 0);
	assert_string_equal(err, ""); /* cleared on success */
}

static void test_config_full_example(void **state)
{
	static const char text[] =
	    "[guard]\n"
	    "mode = deny        ; log | deny | abort  (default log)\n"
	    "log = /var/log/uploadguard/events.jsonl\n"
	    "on_error = closed\n"
	    "audit = on\n"
	    "io_uring = block\n"
	    "only = /usr/sbin/nginx*\n"
	    "\n"
	    "[session]\n"
	    "from = cookie:PHPSESSID, header:X-Session, api, php, env\n"
	    "cross = deny\n"
	    "salt = some-secret ; key for session digests\n"
	    "\n"
	    "[upload /srv/uploads]   ; a guarded subtree\n"
	    "max_file = 10M\n"
	    "max_total = 1G\n"
	    "max_files = 100000\n"
	    "max_session = 100M\n"
	    "mode = abort\n"
	    "owner = path:{session}/\n"
	    "[upload /srv/other/]\n"
	    "max_file = 1K\n";
	const struct ug_root *r;

	(void)state;
	assert_int_equal(parse(text), 0);
	assert_int_equal(cfg.mode, UG_MODE_DENY);
	assert_string_equal(cfg.log, "/var/log/uploadguard/events.jsonl");
	assert_true(cfg.on_error_closed);
	assert_true(cfg.audit);
	assert_true(cfg.io_uring_block);
	assert_string_equal(cfg.only, "/usr/sbin/nginx*");
	assert_int_equal(cfg.nsources, 5);
	assert_int_equal(cfg.sources[0].kind, UG_SRC_COOKIE);
	assert_string_equal(cfg.sources[0].name, "PHPSESSID");
	assert_int_equal(cfg.sources[1].kind, UG_SRC_HEADER);
	assert_string_equal(cfg.sources[1].name, "X-Session");
	assert_int_equal(cfg.sources[2].kind, UG_SRC_API);
	assert_int_equal(cfg.sources[3].kind, UG_SRC_PHP);
	assert_int_equal(cfg.sources[4].kind, UG_SRC_ENV);
	assert_string_equal(cfg.sources[4].name, "");
	assert_int_equal(cfg.cross, UG_MODE_DENY);
	assert_string_equal(cfg.salt, "some-secret");
	assert_int_equal(cfg.nroots, 2);
	r = &cfg.roots[0];
	assert_string_equal(r->path, "/srv/uploads");
	assert_int_equal(r->len, 12);
	assert_true(r->max_file == 10ull << 20);
	assert_true(r->max_total == 1ull << 30);
	assert_true(r->max_files == 100000);
	assert_true(r->max_session == 100ull << 20);
	assert_int_equal(r->mode, UG_MODE_ABORT);
	assert_string_equal(r->owner, "path:{session}/");
	assert_int_equal(r->line, 14);
	r = &cfg.roots[1];
	assert_string_equal(r->path, "/srv/other");
	assert_true(r->max_file == 1024);
	assert_true(r->max_total == UG_UNLIMITED);
	assert_true(r->max_files == UG_UNLIMITED);
	assert_true(r->max_session == UG_UNLIMITED);
	assert_int_equal(r->mode, UG_MODE_UNSET);
	assert_null(r->owner);
	assert_int_equal(r->line, 21);
}

static void test_config_comments_and_whitespace(void **state)
{
	(void)state;
	assert_int_equal(parse("; leading comment\n"
			       "   # indented comment\n"
			       "\n \t \n"
			       "[ guard ]  # header comment\n"
			       "\tmode\t=\tdeny\t;trailing\n"
			       "log=/var/log/a#b;c\n" /* no blank: literal */
			       "[session]\n"
			       "salt = x #y\n"),
			 0);
	assert_int_equal(cfg.mode, UG_MODE_DENY);
	assert_string_equal(cfg.log, "/var/log/a#b;c");
	assert_string_equal(cfg.salt, "x");
}

static void test_config_quoted_values_are_literal(void **state)
{
	(void)state;
	assert_int_equal(parse("[session]\n"
			       "salt = \"a ;b # c \"   ; real comment\n"
			       "[upload \"/srv/a ]b\"]\n"
			       "owner = \"path:x {session} ;y\"\n"),
			 0);
	assert_string_equal(cfg.salt, "a ;b # c ");
	assert_string_equal(cfg.roots[0].path, "/srv/a ]b");
	assert_string_equal(cfg.roots[0].owner, "path:x {session} ;y");
	expect_err("[session]\nsalt = \"abc\n",
		   "t.conf:2: missing closing '\"' in the value of salt");
	expect_err("[session]\nsalt = \"abc\" def\n",
		   "t.conf:2: unexpected text after the closing '\"' of salt");
}

static void test_config_crlf_and_bom(void **state)
{
	(void)state;
	assert_int_equal(parse("\xef\xbb\xbf[guard]\r\nmode = abort\r\n\r\n"
			       "[upload /srv/x]\r\nmax_file = 5K\r\n"),
			 0);
	assert_int_equal(cfg.mode, UG_MODE_ABORT);
	assert_string_equal(cfg.roots[0].path, "/srv/x");
	assert_true(cfg.roots[0].max_file == 5120);
	/* Line numbers still count CRLF lines. */
	expect_err("[guard]\r\n\r\nmode = x\r\n",
		   "t.conf:3: bad mode 'x' for mode (use log, deny or abort)");
}

static void test_config_no_final_newline(void **state)
{
	(void)state;
	assert_int_equal(parse("[guard]\nio_uring = block"), 0);
	assert_true(cfg.io_uring_block);
}

static void test_config_unknown_key_message(void **state)
{
	(void)state;
	expect_err("[upload /srv/uploads]\nmax_fiel = 10M\n",
		   "t.conf:2: unknown key 'max_fiel' in [upload /srv/uploads]");
	expect_err("[guard]\nmax_file = 1\n",
		   "t.conf:2: unknown key 'max_file' in [guard]");
	expect_err("[session]\nMode = deny\n",
		   "t.conf:2: unknown key 'Mode' in [session]");
}

static void test_config_bad_size_message(void **state)
{
	(void)state;
	expect_err("\n\n[upload /srv/uploads]\nmax_file = 10Q\n",
		   "t.conf:4: bad size '10Q' for max_file (use bytes or K, M, "
		   "G, T)");
	expect_err("[upload /u]\nmax_session = -1\n",
		   "t.conf:2: bad size '-1' for max_session (use bytes or K, "
		   "M, G, T)");
	expect_err("[upload /u]\nmax_total = 99999999T\n",
		   "t.conf:2: size '99999999T' for max_total is too large");
	expect_err("[upload /u]\nmax_files = lots\n",
		   "t.conf:2: bad count 'lots' for max_files (use a number, "
		   "optionally with K, M, G, T)");
}

static void test_config_zero_cap_allowed(void **state)
{
	(void)state;
	assert_int_equal(parse("[upload /u]\nmax_file = 0\nmax_files = 0\n"),
			 0);
	assert_true(cfg.roots[0].max_file == 0);
	assert_true(cfg.roots[0].max_files == 0);
	assert_int_equal(parse("[upload /u]\nmax_files = 2K\n"), 0);
	assert_true(cfg.roots[0].max_files == 2048);
}

static void test_config_bad_modes_and_switches(void **state)
{
	(void)state;
	expect_err(
	    "[guard]\nmode = DENY\n",
	    "t.conf:2: bad mode 'DENY' for mode (use log, deny or abort)");
	expect_err("[session]\ncross = block\n",
		   "t.conf:2: bad mode 'block' for cross (use log, deny or "
		   "abort)");
	expect_err("[upload /u]\nmode = unset\n",
		   "t.conf:2: bad mode 'unset' for mode (use log, deny or "
		   "abort)");
	expect_err("[guard]\non_error = shut\n",
		   "t.conf:2: bad value 'shut' for on_error (use open or "
		   "closed)");
	expect_err("[guard]\naudit = yes\n",
		   "t.conf:2: bad value 'yes' for audit (use on or off)");
	expect_err("[guard]\nio_uring = deny\n",
		   "t.conf:2: bad value 'deny' for io_uring (use block or "
		   "allow)");
	assert_int_equal(parse("[guard]\non_error = open\naudit = off\n"
			       "io_uring = allow\n"),
			 0);
	assert_false(cfg.on_error_closed || cfg.audit || cfg.io_uring_block);
}

static void test_config_section_errors(void **state)
{
	(void)state;
	expect_err("[gaurd]\n", "t.conf:1: unknown section [gaurd] (use "
				"[guard], [session] or [upload PATH])");
	expect_err("[guard\nmode = deny\n",
		   "t.conf:1: section header without closing ']'");
	expect_err("[guard] mode = deny\n",
		   "t.conf:1: unexpected text after ']': ' mode = deny'");
	expect_err("[guard x]\n",
		   "t.conf:1: [guard] takes no argument, found 'x'");
	expect_err("[]\n", "t.conf:1: unknown section [] (use [guard], "
			   "[session] or [upload PATH])");
}

static void test_config_key_outside_section(void **state)
{
	(void)state;
	expect_err("; top\nmode = deny\n[guard]\n",
		   "t.conf:2: key 'mode' outside any section (add [guard], "
		   "[session] or [upload PATH] above it)");
	/* A rejected [upload] header does not leave a section open. */
	expect_err("[upload relative]\n",
		   "t.conf:1: upload path 'relative' is not absolute");
}

static void test_config_line_syntax_errors(void **state)
{
	(void)state;
	expect_err("[guard]\nmode deny\n",
		   "t.conf:2: expected 'key = value' or a [section] header, "
		   "found 'mode deny'");
	expect_err("[guard]\n = deny\n", "t.conf:2: missing key before '='");
	expect_err("[guard]\nmode =   ; nothing\n",
		   "t.conf:2: missing value for mode in [guard]");
	expect_err("[upload /u]\nowner = \"\"\n",
		   "t.conf:2: missing value for owner in [upload /u]");
}

static void test_config_duplicate_key(void **state)
{
	(void)state;
	expect_err("[guard]\nmode = log\naudit = on\nmode = deny\n",
		   "t.conf:4: duplicate key 'mode' in [guard] (first set at "
		   "line 2)");
	/* A repeated [guard] continues the section: still a duplicate. */
	expect_err("[guard]\nlog = syslog\n[session]\n[guard]\nlog = stderr\n",
		   "t.conf:5: duplicate key 'log' in [guard] (first set at "
		   "line 2)");
	expect_err("[upload /a]\nmax_file = 1\nmax_file = 2\n",
		   "t.conf:3: duplicate key 'max_file' in [upload /a] (first "
		   "set at line 2)");
}

static void test_config_same_key_in_different_sections(void **state)
{
	(void)state;
	assert_int_equal(parse("[guard]\nmode = deny\n"
			       "[upload /a]\nmode = log\nmax_file = 1\n"
			       "[upload /b]\nmode = abort\nmax_file = 2\n"),
			 0);
	assert_int_equal(cfg.mode, UG_MODE_DENY);
	assert_int_equal(cfg.nroots, 2);
	assert_int_equal(cfg.roots[0].mode, UG_MODE_LOG);
	assert_int_equal(cfg.roots[1].mode, UG_MODE_ABORT);
	assert_true(cfg.roots[1].max_file == 2);
}

static void test_config_upload_path_normalised(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"/", "/"},
	    {"//", "/"},
	    {"/srv/uploads/", "/srv/uploads"},
	    {"//srv///uploads//", "/srv/uploads"},
	    {"/srv/./uploads/.", "/srv/uploads"},
	    {"/srv/tmp/../uploads", "/srv/uploads"},
	    {"/..", "/"},
	    {"/../../srv", "/srv"},
	    {"/srv/a/b/../../c", "/srv/c"},
	    {"/srv/..", "/"},
	    {"/srv/...", "/srv/..."},
	    {"/srv/.hidden/..x", "/srv/.hidden/..x"},
	    {"/srv/my uploads", "/srv/my uploads"},
	};
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[upload %s]\n", cases[i].in);
		assert_int_equal(parse(text), 0);
		assert_int_equal(cfg.nroots, 1);
		assert_string_equal(cfg.roots[0].path, cases[i].out);
		assert_int_equal(cfg.roots[0].len, strlen(cases[i].out));
	}
}

static void test_config_upload_path_errors(void **state)
{
	(void)state;
	expect_err("[upload]\n", "t.conf:1: empty path in [upload] (use "
				 "[upload /absolute/path])");
	expect_err("[upload    ]\n", "t.conf:1: empty path in [upload] (use "
				     "[upload /absolute/path])");
	expect_err("[upload \"\"]\n", "t.conf:1: empty path in [upload] (use "
				      "[upload /absolute/path])");
	expect_err("[upload srv/uploads]\n",
		   "t.conf:1: upload path 'srv/uploads' is not absolute");
	expect_err("[upload ./srv]\n",
		   "t.conf:1: upload path './srv' is not absolute");
}

static void test_config_upload_path_too_long(void **state)
{
	static char text[PATH_MAX + 64];
	size_t n;

	(void)state;
	/* PATH_MAX - 1 bytes fits... */
	n = (size_t)sprintf(text, "[upload /");
	memset(text + n, 'a', PATH_MAX - 2);
	strcpy(text + n + PATH_MAX - 2, "]\n");
	assert_int_equal(parse(text), 0);
	assert_int_equal(cfg.roots[0].len, PATH_MAX - 1);
	/* ...PATH_MAX bytes does not. */
	memset(text + n, 'a', PATH_MAX - 1);
	strcpy(text + n + PATH_MAX - 1, "]\n");
	assert_int_equal(parse(text), -EINVAL);
	assert_non_null(strstr(err, "t.conf:1: upload path '/aaaa"));
	assert_non_null(strstr(err, "...' is too long (4096 bytes, at most "
				    "4095)"));
}

static void test_config_upload_duplicate_after_normalising(void **state)
{
	(void)state;
	expect_err("[upload /srv/uploads]\nmax_file = 1\n\n"
		   "[upload //srv/./uploads/]\n",
		   "t.conf:4: duplicate [upload /srv/uploads] (first at line "
		   "1)");
	/* Nested roots are distinct. */
	assert_int_equal(parse("[upload /srv]\n[upload /srv/uploads]\n"), 0);
	assert_int_equal(cfg.nroots, 2);
}

static void test_config_session_sources(void **state)
{
	char text[128];

	(void)state;
	assert_int_equal(parse("[session]\nfrom = env ,php,  header:x-sid\n"),
			 0);
	assert_int_equal(cfg.nsources, 3);
	assert_int_equal(cfg.sources[0].kind, UG_SRC_ENV);
	assert_int_equal(cfg.sources[1].kind, UG_SRC_PHP);
	assert_int_equal(cfg.sources[2].kind, UG_SRC_HEADER);
	assert_string_equal(cfg.sources[2].name, "x-sid");
	/* A 63-character token is the longest name. */
	snprintf(
	    text, sizeof(text), "[session]\nfrom = cookie:%s\n",
	    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL");
	assert_int_equal(parse(text), 0);
	assert_int_equal(strlen(cfg.sources[0].name), 63);
}

static void test_config_session_source_errors(void **state)
{
	char text[160];

	(void)state;
	expect_err("[session]\nfrom = api, jwt\n",
		   "t.conf:2: bad session source 'jwt' (use api, php, env, "
		   "cookie:NAME or header:NAME)");
	expect_err("[session]\nfrom = cookie:\n",
		   "t.conf:2: bad session source 'cookie:' (the name after "
		   "':' is missing)");
	expect_err("[session]\nfrom = header:X Session\n",
		   "t.conf:2: bad session source 'header:X Session' (the name "
		   "may hold letters, digits and !#$%&'*+-.^_`|~ only)");
	expect_err("[session]\nfrom = cookie:a=b\n",
		   "t.conf:2: bad session source 'cookie:a=b' (the name may "
		   "hold letters, digits and !#$%&'*+-.^_`|~ only)");
	expect_err("[session]\nfrom = api,,php\n",
		   "t.conf:2: empty item in from = 'api,,php' (use a "
		   "comma-separated list such as cookie:PHPSESSID, api)");
	expect_err("[session]\nfrom = api,\n",
		   "t.conf:2: empty item in from = 'api,' (use a "
		   "comma-separated list such as cookie:PHPSESSID, api)");
	expect_err("[session]\nfrom = Header:X-Id\n",
		   "t.conf:2: bad session source 'Header:X-Id' (use api, php, "
		   "env, cookie:NAME or header:NAME)");
	expect_err("[session]\nfrom = header:X-Id, api, header:x-id\n",
		   "t.conf:2: session source 'header:x-id' is listed twice in "
		   "from");
	snprintf(text, sizeof(text), "[session]\nfrom = cookie:%064d\n", 0);
	assert_int_equal(parse(text), -EINVAL);
	assert_non_null(strstr(err, "(the name is longer than 63 "
				    "characters)"));
}

static void test_config_too_many_sources(void **state)
{
	(void)state;
	assert_int_equal(parse("[session]\nfrom = api, php, env, cookie:a, "
			       "cookie:b, cookie:c, header:a, header:b\n"),
			 0);
	assert_int_equal(cfg.nsources, UG_MAX_SOURCES);
	expect_err("[session]\nfrom = api, php, env, cookie:a, cookie:b, "
		   "cookie:c, header:a, header:b, header:c\n",
		   "t.conf:2: too many session sources in from (at most 8)");
}

static void test_config_owner_pattern(void **state)
{
	(void)state;
	assert_int_equal(parse("[upload /u]\nowner = path:{session}/\n"
			       "[upload /v]\nowner = path:a/{session}.d/\n"),
			 0);
	assert_string_equal(cfg.roots[1].owner, "path:a/{session}.d/");
	expect_err("[upload /u]\nowner = {session}/\n",
		   "t.conf:2: bad owner '{session}/' (use path:PATTERN with "
		   "{session} exactly once, e.g. path:{session}/)");
	expect_err("[upload /u]\nowner = path:{session}/{session}\n",
		   "t.conf:2: bad owner 'path:{session}/{session}' (use "
		   "path:PATTERN with {session} exactly once, e.g. "
		   "path:{session}/)");
	expect_err("[upload /u]\nowner = path:x/\n",
		   "t.conf:2: bad owner 'path:x/' (use path:PATTERN with "
		   "{session} exactly once, e.g. path:{session}/)");
	expect_err("[upload /u]\nowner = path:\n",
		   "t.conf:2: bad owner 'path:' (use path:PATTERN with "
		   "{session} exactly once, e.g. path:{session}/)");
}

static void test_config_log_values(void **state)
{
	(void)state;
	assert_int_equal(parse("[guard]\nlog = syslog\n"), 0);
	assert_string_equal(cfg.log, "syslog");
	assert_int_equal(parse("[guard]\nlog = stderr\n"), 0);
	assert_string_equal(cfg.log, "stderr");
	expect_err("[guard]\nlog = events.jsonl\n",
		   "t.conf:2: bad log 'events.jsonl' (use stderr, syslog, syslog:/socket or "
		   "an absolute file path)");
}

static void test_config_error_resets_to_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse("[guard]\nmode = deny\nlog = /l\nonly = /x\n"
			       "[session]\nsalt = s\nfrom = php\n"
			       "[upload /a]\nowner = path:{session}\n"
			       "[upload /b]\nmax_file = nope\n"),
			 -EINVAL);
	assert_int_equal(cfg.mode, UG_MODE_LOG);
	assert_string_equal(cfg.log, "stderr");
	assert_null(cfg.only);
	assert_null(cfg.salt);
	assert_int_equal(cfg.nsources, 1);
	assert_int_equal(cfg.sources[0].kind, UG_SRC_API);
	assert_null(cfg.roots);
	assert_int_equal(cfg.nroots, 0);
	ug__config_free(&cfg); /* harmless after an error */
	ug__config_free(&cfg);
}

/* -------------------------------------------------------- hostile input */

static void test_config_nul_byte_names_the_line(void **state)
{
	static const char text[] = "[guard]\nmode = de\0ny\n";

	(void)state;
	ug__config_free(&cfg);
	assert_int_equal(ug__config_parse(&cfg, text, sizeof(text) - 1,
					  "t.conf", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.conf:2: NUL byte in the line (is this a "
				 "text file?)");
	/* Even inside a comment. */
	assert_int_equal(
	    ug__config_parse(&cfg, "; a\0b\n", 5, "t.conf", err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "t.conf:1: NUL byte in the line (is this a "
				 "text file?)");
}

static void test_config_control_bytes_escaped_in_messages(void **state)
{
	(void)state;
	expect_err("[guard]\nmo\x1b[31mde = deny\n",
		   "t.conf:2: unknown key 'mo\\x1b[31mde' in [guard]");
	expect_err("[guard]\nmode = a\rb\x7f\\\n",
		   "t.conf:2: bad mode 'a\\x0db\\x7f\\\\' for mode (use log, "
		   "deny or abort)");
	expect_err("[upload /a\x01\x02]\nx = 1\n",
		   "t.conf:2: unknown key 'x' in [upload /a\\x01\\x02]");
	/* The file name is escaped too. */
	ug__config_free(&cfg);
	assert_int_equal(
	    ug__config_parse(&cfg, "x = 1\n", 6, "a\nb", err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "a\\x0ab:1: key 'x' outside any section "
				 "(add [guard], [session] or [upload PATH] "
				 "above it)");
}

static void test_config_non_utf8_escaped_utf8_kept(void **state)
{
	(void)state;
	expect_err("[guard]\nmode = \xff\xfe\xc3\n",
		   "t.conf:2: bad mode '\\xff\\xfe\\xc3' for mode (use log, "
		   "deny or abort)");
	/* Valid UTF-8 passes through; C1 controls and overlongs do not. */
	expect_err("[guard]\nmode = d\xc3\xa9ny\n",
		   "t.conf:2: bad mode 'd\xc3\xa9ny' for mode (use log, deny "
		   "or abort)");
	expect_err("[guard]\nmode = \xc2\x9b\xc0\xaf\xed\xa0\x80\n",
		   "t.conf:2: bad mode '\\xc2\\x9b\\xc0\\xaf\\xed\\xa0\\x80' "
		   "for mode (use log, deny or abort)");
	/* Non-UTF-8 paths are bytes and are kept as they are. */
	assert_int_equal(parse("[upload /srv/\xff]\n"), 0);
	assert_string_equal(cfg.roots[0].path, "/srv/\xff");
}

static void test_config_error_truncated_safely(void **state)
{
	static const char text[] = "[guard]\n\x01\x02\x03 = 1\n";
	const char *full = "t.conf:2: unknown key '\\x01\\x02\\x03' in [guard]";
	char small[64];
	const char *bs;
	size_t cap;

	(void)state;
	for (cap = 1; cap < sizeof(small); cap++) {
		size_t len;

		memset(small, 'Z', sizeof(small));
		ug__config_free(&cfg);
		assert_int_equal(ug__config_parse(&cfg, text, sizeof(text) - 1,
						  "t.conf", small, cap),
				 -EINVAL);
		len = strlen(small);
		assert_true(len < cap);
		assert_true(small[cap] == 'Z'); /* nothing written past */
		assert_int_equal(memcmp(small, full, len), 0);
		/* Never half an escape: a cut falls before a '\\'. */
		bs = strrchr(small, '\\');
		assert_true(bs == NULL || strlen(bs) >= 4);
		assert_false(has_raw_control(small));
	}
	/* errlen 0 and a NULL buffer are allowed. */
	assert_int_equal(
	    ug__config_parse(&cfg, text, sizeof(text) - 1, "t", NULL, 0),
	    -EINVAL);
	small[0] = 'Z';
	assert_int_equal(
	    ug__config_parse(&cfg, text, sizeof(text) - 1, "t", small, 0),
	    -EINVAL);
	assert_true(small[0] == 'Z');
}

static void test_config_one_mib_lines(void **state)
{
	static char text[(1u << 20) + 64];
	size_t big = 1u << 20, n;

	(void)state;
	/* A 1 MiB value is accepted as is. */
	n = (size_t)sprintf(text, "[session]\nsalt = ");
	memset(text + n, 's', big);
	strcpy(text + n + big, "\n");
	assert_int_equal(parse(text), 0);
	assert_int_equal(strlen(cfg.salt), big);
	/* A 1 MiB key: the message quotes a bounded prefix. */
	n = (size_t)sprintf(text, "[guard]\n");
	memset(text + n, 'k', big);
	strcpy(text + n + big, " = 1\n");
	assert_int_equal(parse(text), -EINVAL);
	assert_true(strlen(err) < 200);
	assert_non_null(strstr(err, "t.conf:2: unknown key 'kkkk"));
	assert_non_null(strstr(err, "kkk...' in [guard]"));
	/* A 1 MiB header without ']' and a 1 MiB size. */
	memset(text, '[', big);
	text[big] = '\0';
	expect_err(text, "t.conf:1: section header without closing ']'");
	n = (size_t)sprintf(text, "[upload /u]\nmax_file = ");
	memset(text + n, '9', big);
	text[n + big] = '\0';
	assert_int_equal(parse(text), -EINVAL);
	assert_non_null(strstr(err, "...' for max_file is too large"));
}

static void test_config_ten_thousand_roots(void **state)
{
	size_t cap = 10000 * 64, n = 0, i;
	char *text = malloc(cap);

	(void)state;
	assert_non_null(text);
	for (i = 0; i < 10000; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "[upload /srv/u%zu]\nmax_file = %zuK\n",
				      i, i);
	assert_int_equal(parse(text), 0);
	assert_int_equal(cfg.nroots, 10000);
	assert_string_equal(cfg.roots[9999].path, "/srv/u9999");
	assert_true(cfg.roots[9999].max_file == 9999 * 1024ull);
	assert_int_equal(cfg.roots[5000].line, 10001);
	snprintf(text + n, cap - n, "[upload /srv//u5000/]\n");
	expect_err(text, "t.conf:20001: duplicate [upload /srv/u5000] (first "
			 "at line 10001)");
	free(text);
}

/* Random bytes must never crash, and any message must stay one clean
 * line.  Runs under ASan/valgrind in CI. */
static void test_config_random_garbage(void **state)
{
	static const char alphabet[] = "[]=;#\"\n\r\t /.,:{}kmKMG0123456789"
				       "guardsessionuploadmax_file\x01\xff";
	char text[256];
	unsigned seed = 12345;
	int round;

	(void)state;
	for (round = 0; round < 20000; round++) {
		size_t n, i;
		int rc;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof(text);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			text[i] = (round & 1)
				      ? (char)(seed >> 16)
				      : alphabet[(seed >> 16) %
						 (sizeof(alphabet) - 1)];
		}
		ug__config_free(&cfg);
		rc = ug__config_parse(&cfg, text, n, "r", err, sizeof(err));
		assert_true(rc == 0 || rc == -EINVAL);
		if (rc) {
			assert_false(has_raw_control(err));
			assert_int_equal(strncmp(err, "r:", 2), 0);
		}
	}
}

/* ---------------------------------------------------------- environment */

static void test_config_env_overrides(void **state)
{
	(void)state;
	assert_int_equal(parse("[guard]\nmode = log\nlog = /var/log/a\n"
			       "[upload /u]\nmode = abort\n"),
			 0);
	assert_int_equal(
	    ug__config_env(&cfg, "deny", "syslog", err, sizeof(err)), 0);
	assert_int_equal(cfg.mode, UG_MODE_DENY);
	assert_string_equal(cfg.log, "syslog");
	assert_int_equal(cfg.roots[0].mode, UG_MODE_ABORT); /* per root */
	assert_int_equal(ug__config_env(&cfg, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(cfg.mode, UG_MODE_DENY);
	/* Replacing the default log too (no free of the default). */
	assert_int_equal(parse(""), 0);
	assert_int_equal(
	    ug__config_env(&cfg, "abort", "/tmp/x.jsonl", err, sizeof(err)), 0);
	assert_int_equal(cfg.mode, UG_MODE_ABORT);
	assert_string_equal(cfg.log, "/tmp/x.jsonl");
}

static void test_config_env_errors(void **state)
{
	(void)state;
	assert_int_equal(parse(""), 0);
	assert_int_equal(ug__config_env(&cfg, "x", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "UPLOADGUARD_MODE: bad mode 'x' (use log, "
				 "deny or abort)");
	assert_int_equal(ug__config_env(&cfg, "", NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "UPLOADGUARD_MODE: bad mode '' (use log, "
				 "deny or abort)");
	assert_int_equal(ug__config_env(&cfg, "deny", "", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "UPLOADGUARD_LOG: bad log '' (use stderr, "
				 "syslog, syslog:/socket or an absolute file path)");
	assert_int_equal(ug__config_env(&cfg, NULL, "rel\n", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "UPLOADGUARD_LOG: bad log 'rel\\x0a' (use "
				 "stderr, syslog, syslog:/socket or an absolute file path)");
	/* Nothing applied on error, not even the valid half. */
	assert_int_equal(cfg.mode, UG_MODE_LOG);
	assert_string_equal(cfg.log, "stderr");
}

/* --------------------------------------------------------------- loader */

static char tmpdir[PATH_MAX];

static int setup_tmpdir(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/ugcfg.XXXXXX", t ? t : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	char cmd[PATH_MAX + 16];

	teardown(state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int lowest_free_fd(void)
{
	int fd = dup(0), r = fd;

	close(fd);
	return r;
}

static void test_config_load_reads_file(void **state)
{
	char path[PATH_MAX + 32];
	int fd0 = lowest_free_fd();

	(void)state;
	snprintf(path, sizeof(path), "%s/ok.conf", tmpdir);
	write_file(path, "[guard]\nmode = deny\n[upload /srv/u/]\n"
			 "max_file = 1M\n");
	errno = 1234;
	ug__config_free(&cfg);
	assert_int_equal(ug__config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(errno, 1234); /* preserved */
	assert_int_equal(cfg.mode, UG_MODE_DENY);
	assert_string_equal(cfg.roots[0].path, "/srv/u");
	assert_int_equal(lowest_free_fd(), fd0); /* no descriptor leaked */
}

static void test_config_load_error_names_file_and_line(void **state)
{
	char path[PATH_MAX + 32], want[PATH_MAX + 128];

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	write_file(path, "[upload /srv/uploads]\nmax_file = 10Q\n");
	ug__config_free(&cfg);
	assert_int_equal(ug__config_load(&cfg, path, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: bad size '10Q' for max_file (use "
		 "bytes or K, M, G, T)",
		 path);
	assert_string_equal(err, want);
}

static void test_config_load_missing_file(void **state)
{
	char path[PATH_MAX + 32], want[PATH_MAX + 128];
	int fd0 = lowest_free_fd();

	(void)state;
	snprintf(path, sizeof(path), "%s/none.conf", tmpdir);
	errno = 0;
	assert_int_equal(ug__config_load(&cfg, path, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(errno, 0);
	snprintf(want, sizeof(want), "%s: cannot open (no such file)", path);
	assert_string_equal(err, want);
	assert_int_equal(ug__config_load(&cfg, "", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "(config): no file name given");
	assert_int_equal(lowest_free_fd(), fd0);
}

static void test_config_load_refuses_non_regular(void **state)
{
	char path[PATH_MAX + 32], want[PATH_MAX + 128];
	int fd0 = lowest_free_fd();

	(void)state;
	assert_int_equal(ug__config_load(&cfg, tmpdir, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", tmpdir);
	assert_string_equal(err, want);
	/* A FIFO with no writer: must not block. */
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ug__config_load(&cfg, path, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	assert_string_equal(err, want);
	assert_int_equal(ug__config_load(&cfg, "/dev/null", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "/dev/null: not a regular file");
	assert_int_equal(lowest_free_fd(), fd0);
}

static void test_config_load_refuses_over_4mib(void **state)
{
	char path[PATH_MAX + 32], want[PATH_MAX + 128];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (4 << 20) + 1), 0);
	assert_int_equal(ug__config_load(&cfg, path, err, sizeof(err)), -EFBIG);
	snprintf(want, sizeof(want),
		 "%s: file is larger than 4 MiB, "
		 "refusing it",
		 path);
	assert_string_equal(err, want);
	/* Exactly 4 MiB is read (and here fails on its NUL bytes). */
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	close(fd);
	assert_int_equal(ug__config_load(&cfg, path, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:1: NUL byte in the line (is this a "
		 "text file?)",
		 path);
	assert_string_equal(err, want);
}

static void test_config_load_unreadable(void **state)
{
	char path[PATH_MAX + 32];

	(void)state;
	if (geteuid() == 0)
		skip(); /* root reads anything */
	snprintf(path, sizeof(path), "%s/secret.conf", tmpdir);
	write_file(path, "[guard]\n");
	assert_int_equal(chmod(path, 0), 0);
	assert_int_equal(ug__config_load(&cfg, path, err, sizeof(err)),
			 -EACCES);
	assert_non_null(strstr(err, ": cannot open (permission denied)"));
}

static void test_config_mode_name(void **state)
{
	(void)state;
	assert_string_equal(ug__mode_name(UG_MODE_LOG), "log");
	assert_string_equal(ug__mode_name(UG_MODE_DENY), "deny");
	assert_string_equal(ug__mode_name(UG_MODE_ABORT), "abort");
	assert_string_equal(ug__mode_name(UG_MODE_UNSET), "unset");
	assert_string_equal(ug__mode_name((enum ug_mode)42), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_size_plain_bytes),
	    cmocka_unit_test(test_size_suffixes_are_powers_of_1024),
	    cmocka_unit_test(test_size_rejects_malformed),
	    cmocka_unit_test(test_size_overflow_is_erange),
#define T(f) cmocka_unit_test_teardown(f, teardown)
	    T(test_config_defaults),
	    T(test_config_full_example),
	    T(test_config_comments_and_whitespace),
	    T(test_config_quoted_values_are_literal),
	    T(test_config_crlf_and_bom),
	    T(test_config_no_final_newline),
	    T(test_config_unknown_key_message),
	    T(test_config_bad_size_message),
	    T(test_config_zero_cap_allowed),
	    T(test_config_bad_modes_and_switches),
	    T(test_config_section_errors),
	    T(test_config_key_outside_section),
	    T(test_config_line_syntax_errors),
	    T(test_config_duplicate_key),
	    T(test_config_same_key_in_different_sections),
	    T(test_config_upload_path_normalised),
	    T(test_config_upload_path_errors),
	    T(test_config_upload_path_too_long),
	    T(test_config_upload_duplicate_after_normalising),
	    T(test_config_session_sources),
	    T(test_config_session_source_errors),
	    T(test_config_too_many_sources),
	    T(test_config_owner_pattern),
	    T(test_config_log_values),
	    T(test_config_error_resets_to_defaults),
	    T(test_config_nul_byte_names_the_line),
	    T(test_config_control_bytes_escaped_in_messages),
	    T(test_config_non_utf8_escaped_utf8_kept),
	    T(test_config_error_truncated_safely),
	    T(test_config_one_mib_lines),
	    T(test_config_ten_thousand_roots),
	    T(test_config_random_garbage),
	    T(test_config_env_overrides),
	    T(test_config_env_errors),
	    T(test_config_mode_name),
#undef T
	};
	const struct CMUnitTest load_tests[] = {
	    cmocka_unit_test_teardown(test_config_load_reads_file, teardown),
	    cmocka_unit_test_teardown(
		test_config_load_error_names_file_and_line, teardown),
	    cmocka_unit_test_teardown(test_config_load_missing_file, teardown),
	    cmocka_unit_test_teardown(test_config_load_refuses_non_regular,
				      teardown),
	    cmocka_unit_test_teardown(test_config_load_refuses_over_4mib,
				      teardown),
	    cmocka_unit_test_teardown(test_config_load_unreadable, teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("config", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("config_load", load_tests,
					      setup_tmpdir, teardown_tmpdir);
	return failed ? 1 : 0;
}
